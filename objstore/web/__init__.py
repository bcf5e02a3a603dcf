"""The HTTP base shared by every server: WSGI app plumbing over webob
(app.py), the process runner with workers and signals (server.py), and the
backend HTTP client with its keep-alive pool (backend.py).

This is the only package that wraps webob types; storage kinds and the proxy
use ``Request``/``Response`` from here.
"""
