"""The server runner as a real process: workers, keep-alive, graceful SIGTERM,
SIGHUP reload, malformed HTTP."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(__file__)


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def echo_server(tmp_path, listen_socket):
    procs = []

    def start(workers=2, greeting="hi"):
        conf = tmp_path / "echo.conf"
        conf.write_text("[echo]\nworkers = %d\ngreeting = %s\n" % (workers, greeting))
        sock = listen_socket()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.web.echo_app", str(conf), "--listen-fd", str(sock.fileno())],
            pass_fds=[sock.fileno()],
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        port = sock.getsockname()[1]
        wait_for(lambda: _get(port, "/", quiet=True))
        return proc, port, conf

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()


def _get(port, path, method="GET", quiet=False):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        if quiet:
            return None
        raise


def test_workers_share_the_socket_and_keepalive(echo_server):
    proc, port, _ = echo_server(workers=2)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    pids = set()
    for _ in range(3):  # one keep-alive connection: the same worker answers each time
        conn.request("GET", "/")
        resp = conn.getresponse()
        pids.add(resp.read().split()[1])
    assert len(pids) == 1
    assert int(pids.pop()) != proc.pid  # a worker, not the parent


def test_sigterm_drains_in_flight_requests(echo_server):
    proc, port, _ = echo_server(workers=1)
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=_get(port, "/?t=1", method="SLOW")))
    thread.start()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    thread.join(10)
    assert result["r"] == (200, b"slow done")
    assert proc.wait(10) == 0


def test_sighup_reloads_config(echo_server):
    proc, port, conf = echo_server(workers=1, greeting="before")
    assert _get(port, "/")[1].startswith(b"before")
    conf.write_text("[echo]\nworkers = 1\ngreeting = after\n")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: _get(port, "/")[1].startswith(b"after"))


def test_bad_config_on_reload_keeps_serving(echo_server):
    proc, port, conf = echo_server(workers=1, greeting="kept")
    conf.write_text("[echo]\nworkers = lots\n")
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert _get(port, "/")[1].startswith(b"kept")
    assert proc.poll() is None


def test_malformed_http_gets_400_not_a_hang(echo_server):
    _proc, port, _ = echo_server(workers=0)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
    data = sock.recv(1024)
    sock.close()
    assert data.startswith(b"HTTP/1.") and b" 400 " in data.split(b"\r\n")[0]


def _raw(port, data):
    """Send raw bytes; the first answer's status and body (JSON when ECHO answered)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(data)
        reader = sock.makefile("rb")
        status = int(reader.readline().split()[1])
        length = 0
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, reader.read(length)
    finally:
        sock.close()


def _raw_all(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(data)
        return sock.makefile("rb").read()
    finally:
        sock.close()


def test_request_heads_are_parsed_like_http_server_did(echo_server):
    _proc, port, _ = echo_server(workers=0)
    status, body = _raw(port, b"ECHO //a/b%20c HTTP/1.1\r\nX-One:  spaced value \r\nx-two: a\r\n"
                              b"X-Two: b\r\nX-Fold: first\r\n  second\r\nContent-Length: 3\r\n\r\nabc")
    seen = json.loads(body)
    assert status == 200 and seen["path"] == "/a/b c" and seen["body"] == 3
    assert seen["HTTP_X_ONE"] == "spaced value" and seen["HTTP_X_TWO"] == "a,b"
    assert seen["HTTP_X_FOLD"] == "first second" and seen["CONTENT_LENGTH"] == "3"
    assert seen["CONTENT_TYPE"] == "text/plain"  # what eventlet fills in when none was sent
    assert _raw(port, b"ECHO / HTTP/1.1\r\nno colon here\r\n\r\n")[0] == 400
    assert _raw(port, b"ECHO / HTTP/1.1\r\nBad Name: x\r\n\r\n")[0] == 400
    # a version it cannot read is answered as http.server does: an HTTP/0.9 error page
    assert b"Error code: 505" in _raw_all(port, b"ECHO / HTTP/2.0\r\n\r\n")
    assert b"Error code: 400" in _raw_all(port, b"ECHO / HTTX/1.1\r\n\r\n")
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    assert _raw(port, b"ECHO / HTTP/1.1\r\n" + many + b"\r\n")[0] == 431
    assert _raw(port, b"ECHO / HTTP/1.1\r\nX-Long: " + b"v" * 70000 + b"\r\n\r\n")[0] in (400, 431)


def test_expect_100_continue_and_keep_alive(echo_server):
    _proc, port, _ = echo_server(workers=0)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    sock.sendall(b"ECHO / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert reader.readline().startswith(b"HTTP/1.1 100")  # only once the app reads the body
    assert reader.readline() == b"\r\n"
    sock.sendall(b"hello")
    assert b" 200 " in reader.readline()
    while reader.readline() not in (b"\r\n", b""):
        pass
    assert reader.read1(4096)
    sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # the same connection, kept alive
    assert b" 200 " in reader.readline()
    sock.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.will_close  # HTTP/1.0 without keep-alive: closed


def test_unhandled_error_is_500_with_trans_id(echo_server):
    _proc, port, _ = echo_server(workers=0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("BOOM", "/")
    resp = conn.getresponse()
    assert resp.status == 500 and resp.getheader("X-Trans-Id", "").startswith("tx")
    assert resp.read() == b"An error occurred\n"


def test_config_error_is_one_line_exit_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[echo]\nnot_an_option = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.unit.web.echo_app", str(conf)],
        capture_output=True, text=True, timeout=30,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not_an_option" in proc.stderr
