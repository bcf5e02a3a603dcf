"""proxy_logging: the one access-log line per request, written when the
response body is done (or the client went away: status 499 when fewer bytes
than announced were sent, or when the client's body was cut short).

Line: ``client "METHOD path" status bytes_in bytes_out "referer"
"user-agent" txn duration``.
"""

import dataclasses
import time
import urllib.parse



@dataclasses.dataclass(frozen=True)
class Config:
    pass


class _CountingInput:
    __slots__ = ("stream", "count")

    def __init__(self, stream):
        self.stream = stream
        self.count = 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.count += len(data)
        return data

    def __iter__(self):
        return iter(self.readline, b"")


class ProxyLogging:
    def __init__(self, app, config, logger):
        self.app = app
        self.logger = logger

    def __call__(self, environ, start_response):
        start = time.time()
        counter = _CountingInput(environ["wsgi.input"]) if "wsgi.input" in environ else None
        if counter is not None:
            environ["wsgi.input"] = counter
        state = {"status": 500, "length": None}

        def capture(status, headers, exc_info=None):
            state["status"] = int(status.split(" ", 1)[0])
            for key, value in headers:
                if key.lower() == "content-length":
                    try:
                        state["length"] = int(value)
                    except ValueError:
                        pass
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            iterable = self.app(environ, capture)
        except Exception:
            self.log(environ, 500, counter, 0, start)
            raise
        return self._iterate(iterable, environ, state, counter, start)

    def _iterate(self, iterable, environ, state, counter, start):
        sent = 0
        status = None
        try:
            for chunk in iterable:
                sent += len(chunk)
                yield chunk
        except GeneratorExit:
            status = 499
            raise
        except Exception:
            status = 499 if sent else 500
            raise
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
            if status is None:
                status = state["status"]
                length = state["length"]
                if length is not None and sent < length and environ.get("REQUEST_METHOD") != "HEAD":
                    status = 499
            self.log(environ, status, counter, sent, start)

    def log(self, environ, status, counter, sent, start):
        path = urllib.parse.quote(environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        self.logger.info(
            '%s "%s %s" %s %d %d "%s" "%s" %s %.4f',
            environ.get("HTTP_X_FORWARDED_FOR") or environ.get("REMOTE_ADDR") or "-",
            environ.get("REQUEST_METHOD", "-"),
            path,
            status,
            counter.count if counter is not None else 0,
            sent,
            environ.get("HTTP_REFERER", "-"),
            environ.get("HTTP_USER_AGENT", "-"),
            environ.get("objstore.trans_id", "-"),
            time.time() - start,
        )


def filter_factory(app, config, logger, proxy):
    return ProxyLogging(app, config, logger)
