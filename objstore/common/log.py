"""Logging setup: stderr or a file, the server's name on every line, and the
transaction id of the request being served when there is one.

The transaction id travels in a contextvar-like slot per greenthread; the WSGI
boundary sets it (see objstore.web.app). Named ``log`` so as not to shadow the
stdlib ``logging``.
"""

import logging
import logging.handlers
import sys
import threading

_local = threading.local()  # greenthread-local once eventlet patches threading

LOG_FORMAT = "%(asctime)s %(server)s %(levelname)s: %(message)s%(txn)s"


def set_txn_id(txn_id):
    _local.txn_id = txn_id


def get_txn_id():
    return getattr(_local, "txn_id", None)


class _ContextFilter(logging.Filter):
    def __init__(self, server):
        super().__init__()
        self.server = server

    def filter(self, record):
        record.server = self.server
        txn = get_txn_id()
        record.txn = " (txn: %s)" % txn if txn else ""
        return True


def get_logger(server, log_file=None, level="INFO", stream=None):
    """A logger for ``server`` writing to ``log_file`` (or ``stream``/stderr).

    Calling it again for the same server replaces its handlers.
    """
    logger = logging.getLogger("objstore." + server)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if log_file:
        handler = logging.handlers.WatchedFileHandler(log_file)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_ContextFilter(server))
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return logger


class CapturingHandler(logging.Handler):
    """Keeps records in memory; tests hand a logger with this to the code."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def lines(self, level=None):
        return [r.getMessage() for r in self.records if level is None or r.levelname == level]


def capturing_logger(name="test"):
    """``(logger, handler)`` where handler.lines() returns what was logged."""
    logger = logging.getLogger("objstore.capture.%s.%d" % (name, id(object())))
    logger.propagate = False
    handler = CapturingHandler()
    handler.addFilter(_ContextFilter(name))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, handler
