"""healthcheck: ``GET /healthcheck`` answers 200 ``OK`` without touching any
backend, or 503 ``DISABLED BY FILE`` while ``disable_path`` exists (so an
operator can drain a proxy from a load balancer)."""

import dataclasses
import os

from objstore.common.config import option
from objstore.web.app import Response


@dataclasses.dataclass(frozen=True)
class Config:
    disable_path: str = option("", "when this file exists, /healthcheck answers 503")


class HealthCheck:
    def __init__(self, app, config):
        self.app = app
        self.disable_path = config.disable_path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/healthcheck":
            return self.app(environ, start_response)
        if self.disable_path and os.path.exists(self.disable_path):
            resp = Response(status=503, body=b"DISABLED BY FILE", content_type="text/plain")
        else:
            resp = Response(status=200, body=b"OK", content_type="text/plain")
        if environ.get("REQUEST_METHOD") == "HEAD":
            resp.app_iter = []
        return resp(environ, start_response)


def filter_factory(app, config, logger, proxy):
    return HealthCheck(app, config)
