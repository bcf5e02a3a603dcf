"""catch_errors: the outermost filter. Gives every request its transaction
id (X-Trans-Id and X-Openstack-Request-Id on every response, whoever made
it) and turns an exception escaping the pipeline into a logged 500."""

import dataclasses

from objstore.common.config import option
from objstore.common.log import set_txn_id
from objstore.web.app import error_response, new_txn_id


@dataclasses.dataclass(frozen=True)
class Config:
    trans_id_suffix: str = option("", "appended to every transaction id (e.g. a cluster name)")


class CatchErrors:
    def __init__(self, app, config, logger):
        self.app = app
        self.suffix = config.trans_id_suffix
        self.logger = logger

    def __call__(self, environ, start_response):
        txn_id = new_txn_id(self.suffix)
        environ["objstore.trans_id"] = txn_id
        set_txn_id(txn_id)
        extra = [("X-Trans-Id", txn_id), ("X-Openstack-Request-Id", txn_id)]

        def add_ids(status, headers, exc_info=None):
            names = {name.lower() for name, _value in headers}
            headers = list(headers) + [item for item in extra if item[0].lower() not in names]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, add_ids)
        except Exception:  # the pipeline's boundary: log with the transaction id
            self.logger.exception("ERROR unhandled exception in %s %s",
                                  environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            resp = error_response(500, "An error occurred")
            return resp(environ, add_ids)


def filter_factory(app, config, logger, proxy):
    return CatchErrors(app, config, logger)
