"""A tiny server used by test_server.py: GET answers its pid, SLOW sleeps then
answers, ECHO answers the request's headers (JSON of the environ's) and body length."""

import dataclasses
import json
import os
import sys

from objstore.common import green
from objstore.common.config import option
from objstore.web.app import BaseApp, Response
from objstore.web.server import ServerConfig, server_main


@dataclasses.dataclass(frozen=True)
class EchoConfig(ServerConfig):
    greeting: str = option("hello", "what GET answers")


class EchoApp(BaseApp):
    server_name = "echo"

    def __init__(self, config, logger):
        super().__init__(logger)
        self.config = config
        self.routes = {"GET": self.GET, "SLOW": self.SLOW, "BOOM": self.BOOM, "ECHO": self.ECHO}

    def GET(self, req):
        return Response(body=("%s %d" % (self.config.greeting, os.getpid())).encode())

    def SLOW(self, req):
        green.sleep(float(req.params.get("t", "1")))
        return Response(body=b"slow done")

    def ECHO(self, req):
        seen = {k: v for k, v in req.environ.items() if k.startswith("HTTP_") or k.startswith("CONTENT_")}
        seen["body"] = len(req.body)
        seen["path"] = req.environ["PATH_INFO"]
        return Response(body=json.dumps(seen, sort_keys=True).encode())

    def BOOM(self, req):
        raise RuntimeError("kaboom")


if __name__ == "__main__":
    sys.exit(server_main("echo", EchoConfig, lambda path, config, logger: EchoApp(config, logger)))
