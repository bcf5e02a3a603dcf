"""Running a WSGI app as a server process: bind, fork workers that share the
listening socket, keep-alive, a cap on concurrent requests per worker, and
signals (SIGTERM drains in-flight requests and exits; SIGHUP reloads config
and rings by replacing workers gracefully).

What the app does is not here (see app.py); neither is any storage logic.

Theory of operation:
- The parent binds (or inherits, ``--listen-fd``) one socket and forks
  ``workers`` children. Each child runs an eventlet WSGI server on it with a
  green pool of ``max_clients``. With ``workers = 0`` the parent serves.
- Signal handlers only set flags. The parent's loop reaps and respawns dead
  workers; on SIGTERM it forwards SIGTERM and waits; on SIGHUP it reloads the
  config (a bad config is logged and the old workers keep serving), starts new
  workers, and SIGTERMs the old ones, which finish what they are serving.
"""

import argparse
import dataclasses
import errno
import logging
import os
import signal
import socket
import sys
import time

from objstore.common import green
from objstore.common.config import load_section, option
from objstore.common.exceptions import ConfigError
from objstore.common.log import get_logger


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Options every server shares; each server's config subclasses this."""

    bind_ip: str = option("127.0.0.1", "address to listen on")
    bind_port: int = option(0, "port to listen on (0: pick a free one)")
    backlog: int = option(4096, "listen backlog")
    workers: int = option(1, "worker processes sharing the socket (0: serve in the parent)")
    max_clients: int = option(1024, "concurrent requests per worker")
    client_timeout: float = option(60.0, "seconds a client may be idle mid-request")
    keepalive_timeout: float = option(300.0, "seconds an idle keep-alive connection is kept")
    log_file: str = option("", "log file path; empty means stderr")
    log_level: str = option("INFO", "DEBUG, INFO, WARNING or ERROR")
    access_log: bool = option(True, "write an access line per request")
    log_name: str = option("", "name on each log line; empty means the server's kind")


# Limits of a request head, as http.server's (via http.client) were.
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100


class RequestHeaders:
    """A request's headers, as eventlet's WSGI server reads them: ``get``
    (case-insensitive, the first value), ``items`` and the raw pairs in
    ``_headers`` (eventlet builds the environ from those).

    It replaces the ``email.message.Message`` that http.server makes with
    the email package's parser: that parser was about a tenth of the CPU of a
    small request on every server (a 4 KiB PUT crosses seven).
    """

    __slots__ = ("_headers", "_first")

    def __init__(self, pairs):
        self._headers = pairs
        first = {}
        for key, value in pairs:
            first.setdefault(key.lower(), value)
        self._first = first

    def get(self, name, default=None):
        return self._first.get(name.lower(), default)

    def __getitem__(self, name):
        return self._first.get(name.lower())  # as email.message: None when missing

    def __contains__(self, name):
        return name.lower() in self._first

    def items(self):
        return list(self._headers)

    def get_content_type(self):
        """What email.message answers when there is no Content-Type (eventlet asks only then)."""
        return "text/plain"


def parse_header_lines(lines):
    """``[(name, value)]`` of a request's header lines (bytes, with their line
    ends; the blank line excluded). Values are stripped; an obsolete folded
    line (starting with a space or tab) continues the previous value.

    :raises ValueError: a line that is not ``name: value`` or a name with
        white space (RFC 7230 3.2.4), or a folded first line.
    """
    pairs = []
    for raw in lines:
        line = raw.decode("latin-1")
        if line[:1] in (" ", "\t"):
            if not pairs:
                raise ValueError("folded first header line")
            name, value = pairs[-1]
            pairs[-1] = (name, (value + " " + line.strip()).strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or " " in name or "\t" in name:
            raise ValueError("bad header line %r" % line[:80])
        pairs.append((name, value.strip()))
    return pairs


class HttpProtocol(green.wsgi.HttpProtocol):
    """eventlet's request handler with its own request-head parsing (see
    :class:`RequestHeaders`); everything else is eventlet's."""

    def parse_request(self):
        """http.server's parse_request (request line, version, Connection,
        Expect), with the header lines parsed by :func:`parse_header_lines`."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3:
            if len(words) == 2 and words[0] == "GET":  # HTTP/0.9: no headers follow
                self.command, self.path = words
                self.headers = RequestHeaders([])
                return True
            self.send_error(400, "Bad request syntax (%r)" % requestline)
            return False
        command, path, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            if not version.startswith("HTTP/") or version[5:].count(".") != 1 or \
                    not all(part.isdigit() and len(part) <= 10 for part in version[5:].split(".")):
                self.send_error(400, "Bad request version (%r)" % version)
                return False
            major, minor = (int(part) for part in version[5:].split("."))
            if major >= 2:
                self.send_error(505, "Invalid HTTP version (%s)" % version[5:])
                return False
            if (major, minor) < (1, 1):
                version = "HTTP/1.0"
        if version >= "HTTP/1.1" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        self.request_version = version
        self.command = command
        # as http.server (gh-87389): a path starting with // is not taken for a host
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        lines = []
        while True:
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(line) > MAX_HEADER_LINE:
                self.send_error(431, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            lines.append(line)
            if len(lines) > MAX_HEADERS:
                self.send_error(431, "Too many headers")
                return False
        try:
            self.headers = RequestHeaders(parse_header_lines(lines))
        except ValueError as err:
            self.send_error(400, str(err))
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.protocol_version >= "HTTP/1.1" and version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True


class _Flags:
    """What the signal handlers set; the loops act on it."""

    def __init__(self):
        self.stop = False
        self.reload = False

    def install(self):
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_term(self, signum, frame):
        self.stop = True

    def _on_hup(self, signum, frame):
        self.reload = True


def quiet_log_records():
    """Stop the logging module from looking up, for every record, the thread,
    process and source line (our format prints none of them). Under
    eventlet's patched threading the thread lookup alone made an access line
    cost about three times as much (the logging manual's "Optimization")."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


def bind_socket(ip, port, backlog):
    """A listening TCP socket (SO_REUSEADDR), IPv6 when ``ip`` is one."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((ip, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConfigError("cannot listen on %s:%s: address already in use" % (ip, port)) from None
        raise ConfigError("cannot listen on %s:%s: %s" % (ip, port, err.strerror)) from None
    sock.listen(backlog)
    return sock


def _serve(sock, app, config, logger, flags):
    """Serve ``app`` on ``sock`` in this process until flags.stop; then drain."""
    gsock = green.eventlet.greenio.GreenSocket(sock)
    pool = green.GreenPool(config.max_clients)
    server = green.spawn(
        green.wsgi.server,
        gsock,
        app,
        custom_pool=pool,
        log_output=False,
        keepalive=config.keepalive_timeout if config.keepalive_timeout > 0 else False,
        socket_timeout=config.client_timeout,
        minimum_chunk_size=65536,
        debug=False,
        url_length_limit=16384,
        capitalize_response_headers=False,
        protocol=HttpProtocol,
    )
    while not flags.stop and not server.dead:
        green.sleep(0.1)
    if not server.dead:
        server.kill(SystemExit)  # breaks the accept loop; in-flight requests finish
        try:
            server.wait()
        except SystemExit:
            pass


class ServerRunner:
    """Load a config section, bind, fork and supervise workers running an app.

    :param name: the server's kind (``object-server``), its config section.
    :param config_cls: the frozen config dataclass for that section.
    :param app_factory: ``callable(conf_path, config, logger) -> WSGI app``.
    """

    def __init__(self, name, config_cls, app_factory):
        self.name = name
        self.config_cls = config_cls
        self.app_factory = app_factory

    def load(self, conf_path):
        config = load_section(conf_path, self.name, self.config_cls, allow_unknown=("use",))
        logger = get_logger(config.log_name or self.name, config.log_file or None, config.log_level)
        return config, logger

    def run(self, conf_path, listen_fd=None, port_file=None, overrides=None):
        """Serve until SIGTERM. Returns the process exit code."""
        config, logger = self.load(conf_path)
        if overrides:
            config = dataclasses.replace(config, **overrides)
        if listen_fd is not None:
            sock = socket.socket(fileno=listen_fd)
        else:
            sock = bind_socket(config.bind_ip, config.bind_port, config.backlog)
        port = sock.getsockname()[1]
        if port_file:
            with open(port_file + ".tmp", "w") as handle:
                handle.write("%d\n" % port)
            os.rename(port_file + ".tmp", port_file)
        green.monkey_patch()
        quiet_log_records()
        flags = _Flags()
        flags.install()
        app = self.app_factory(conf_path, config, logger)
        logger.info("%s listening on %s:%d (workers=%d)", self.name, config.bind_ip, port, config.workers)
        if config.workers <= 0:
            while True:
                _serve(sock, app, config, logger, flags)
                if flags.reload and not flags.stop:
                    flags.reload = False
                    continue
                break
            logger.info("%s stopped", self.name)
            return 0
        return self._supervise(sock, conf_path, config, logger, app, flags, overrides)

    def _spawn_worker(self, sock, app, config, logger):
        pid = os.fork()
        if pid == 0:
            flags = _Flags()
            flags.install()
            green.hubs_reinit()
            code = 0
            try:
                _serve(sock, app, config, logger, flags)
            except BaseException:  # noqa: the child must never fall back into the parent's loop
                logger.exception("worker %d crashed", os.getpid())
                code = 1
            os._exit(code)
        return pid

    def _supervise(self, sock, conf_path, config, logger, app, flags, overrides):
        children = set(self._spawn_worker(sock, app, config, logger) for _ in range(config.workers))
        draining = set()
        while not flags.stop:
            if flags.reload:
                flags.reload = False
                try:
                    new_config, logger = self.load(conf_path)
                    if overrides:
                        new_config = dataclasses.replace(new_config, **overrides)
                    app = self.app_factory(conf_path, new_config, logger)
                    config = new_config
                except Exception as err:  # a bad config keeps the old workers serving
                    logger.error("reload failed, keeping old workers: %s", err)
                else:
                    old = children
                    children = set(self._spawn_worker(sock, app, config, logger) for _ in range(config.workers))
                    for pid in old:
                        _kill(pid, signal.SIGTERM)
                    draining |= old
                    logger.info("reloaded: %d new workers", len(children))
            for pid in list(children | draining):
                try:
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    draining.discard(pid)
                    if pid in children:
                        children.discard(pid)
                        if not flags.stop:
                            logger.warning("worker %d died; starting another", pid)
                            children.add(self._spawn_worker(sock, app, config, logger))
            time.sleep(0.1)
        for pid in children | draining:
            _kill(pid, signal.SIGTERM)
        for pid in children | draining:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        logger.info("%s stopped", self.name)
        return 0


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def server_main(name, config_cls, app_factory, argv=None):
    """The ``main()`` body of every ``objstore-<kind>-server`` entry point."""
    parser = argparse.ArgumentParser(prog="objstore-" + name)
    parser.add_argument("conf", help="config file (INI) with a [%s] section" % name)
    parser.add_argument("--listen-fd", type=int, help="serve on this inherited listening socket")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--workers", type=int, help="override the config's workers")
    args = parser.parse_args(argv)
    overrides = {"workers": args.workers} if args.workers is not None else None
    try:
        return ServerRunner(name, config_cls, app_factory).run(
            args.conf, listen_fd=args.listen_fd, port_file=args.port_file, overrides=overrides
        )
    except ConfigError as err:
        print("objstore-%s: %s" % (name, err), file=sys.stderr)
        return 2
