"""gatekeeper: clients may not send or see internal headers. Strips
``X-*-Sysmeta-*``, ``X-Backend-*`` and ``X-Timestamp`` (the proxy sets
timestamps) from requests, and sysmeta/backend headers from responses."""

import dataclasses

REQUEST_PREFIXES = ("HTTP_X_OBJECT_SYSMETA_", "HTTP_X_CONTAINER_SYSMETA_", "HTTP_X_ACCOUNT_SYSMETA_", "HTTP_X_BACKEND_")
REQUEST_NAMES = ("HTTP_X_TIMESTAMP",)
RESPONSE_PREFIXES = ("x-object-sysmeta-", "x-container-sysmeta-", "x-account-sysmeta-", "x-backend-")


@dataclasses.dataclass(frozen=True)
class Config:
    pass


class GateKeeper:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        for key in [k for k in environ if k.startswith(REQUEST_PREFIXES) or k in REQUEST_NAMES]:
            del environ[key]

        def filtered(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if not k.lower().startswith(RESPONSE_PREFIXES)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, filtered)


def filter_factory(app, config, logger, proxy):
    return GateKeeper(app)
