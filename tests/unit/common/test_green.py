"""objstore.common.green: importing it leaves the standard library as it was
(only monkey_patch() changes it). Each check runs in a fresh interpreter so
that what this pytest process imported earlier does not matter."""

import subprocess
import sys
import textwrap

# http.server imported BEFORE objstore.common.green (as a test helper or a CLI
# may do), then a plain threaded HTTPServer is served and shut down: its
# shutdown() must use real thread locks, not eventlet's green ones (which its
# serving thread would wake in a hub of its own, leaving shutdown() waiting).
_SCRIPT = textwrap.dedent("""
    import http.server
    import sys
    import threading

    import objstore.common.green  # noqa: F401

    assert http.server is sys.modules["http.server"], "http.server is eventlet's green copy"
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    server.shutdown()
    server.server_close()
    print("shut down")
""")


def test_import_keeps_http_server_the_standard_one():
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", _SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "shut down"


_LEAN = textwrap.dedent("""
    import os
    import sys

    os.environ.pop("EVENTLET_NO_GREENDNS", None)
    from objstore.common import green
    from objstore.ring import Ring  # noqa: F401 - what every server imports

    print(sorted({name.split(".")[0] for name in sys.modules if name.split(".")[0] in ("dns", "objstore")}))
    print("objstore.ring.builder" in sys.modules)
    green.monkey_patch()
    import socket

    print(socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0])
    from objstore.ring import RingBuilder  # still there for those who ask

    print(RingBuilder.__name__)
""")


def test_a_server_process_stays_lean():
    """No dnspython (eventlet's green resolver, ~9 MiB a process) and no ring
    builder (~1.3 MiB) unless asked for; names still resolve."""
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", _LEAN], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["['objstore']", "False", "127.0.0.1", "RingBuilder"]
