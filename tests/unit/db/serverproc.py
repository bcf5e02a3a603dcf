"""Start a real container or account server process for a test (shared by
tests/unit/container and tests/unit/account)."""

import http.client
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def request(port, method, path, headers=None, body=None):
    """``(status, headers dict, body)`` of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class ServerProcess:
    """``objstore.<kind>.server`` on an inherited listening socket.

    :param kind: ``container`` or ``account``.
    :param sock: a listening socket (the ``listen_socket`` fixture's).
    """

    def __init__(self, kind, tmp_path, sock, objstore_conf, workers=2):
        self.devices = tmp_path / ("%s-proc" % kind)
        (self.devices / "sda").mkdir(parents=True)
        conf = tmp_path / ("%s-server.conf" % kind)
        conf.write_text("[%s-server]\ndevices = %s\nmount_check = false\nworkers = %d\naccess_log = false\n"
                        % (kind, self.devices, workers))
        self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "objstore.%s.server" % kind, str(conf), "--listen-fd", str(sock.fileno())],
            pass_fds=[sock.fileno()], cwd=ROOT, stderr=subprocess.PIPE,
            env=dict(os.environ, OBJSTORE_CONF=objstore_conf),
        )
        deadline = time.time() + 20
        while True:
            try:
                if request(self.port, "GET", "/recon/time")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise AssertionError("%s server did not start: %r" % (kind, self.proc.stderr.read()))
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
