"""Account paths ``/v1/<account>``: listing containers, metadata, and account
management for reseller admins."""

from objstore.common.constraints import check_metadata, check_name
from objstore.common.exceptions import MethodNotAllowed
from objstore.common.timestamp import Timestamp
from objstore.proxy.controllers import listing
from objstore.proxy.controllers.base import Controller, translate_removals
from objstore.web.app import Response, error_response, meta_text
from objstore.web.backend import quote_path


class AccountController(Controller):
    server_type = "Account"

    def __init__(self, app):
        super().__init__(app)
        self.handlers = {"GET": self.GET, "HEAD": self.HEAD, "POST": self.POST, "PUT": self.PUT, "DELETE": self.DELETE}

    def GETorHEAD(self, req, account):
        check_name(account, "account", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        fmt = listing.listing_format(req)
        path = quote_path(account)
        if req.method == "GET":
            path += "?" + listing.backend_query(req, self.app.constraints.account_listing_limit)
        resp, node, _iter, status = self.read(req, ring, part, nodes, req.method, path, self.backend_headers(req))
        if resp is None:
            if status == 404 and self.app.config.account_autocreate:
                return self._empty_account(req, account, fmt)
            return error_response(status)
        answer = self.read_listing(req, resp, node)
        if answer is None:
            return error_response(503)
        status, headers, body = answer
        if status >= 300:
            return Response(status=status, headers=headers, body=body)
        return self._listing_response(req, account, fmt, headers, body)

    def _listing_response(self, req, account, fmt, headers, body):
        if req.method == "HEAD":
            resp = Response(status=204, headers=headers)
            resp.content_type = listing.CONTENT_TYPES[fmt]
            resp.charset = "utf-8"
            return resp
        try:
            entries = listing.decode_listing(body)
        except ValueError:
            return error_response(503, "Bad listing from the account server")
        out = listing.render(entries, fmt, "account", account)
        status = 204 if not out else 200
        resp = Response(status=status, headers=headers)
        resp.content_type = listing.CONTENT_TYPES[fmt]
        resp.charset = "utf-8"
        if out:
            resp.body = out
        return resp

    def _empty_account(self, req, account, fmt):
        now = Timestamp.now()
        headers = {
            "X-Account-Container-Count": "0",
            "X-Account-Object-Count": "0",
            "X-Account-Bytes-Used": "0",
            "X-Timestamp": now.normal,
            "X-Put-Timestamp": now.normal,
        }
        return self._listing_response(req, account, fmt, headers, b"[]")

    def GET(self, req, account, container, obj):
        return self.GETorHEAD(req, account)

    def HEAD(self, req, account, container, obj):
        return self.GETorHEAD(req, account)

    def _write(self, req, account, method, extra):
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        headers = self.backend_headers(req, extra)
        headers["X-Timestamp"] = Timestamp.now().internal
        results = self.write_all(ring, part, nodes, method, quote_path(account), [headers] * len(nodes))
        self.app.info_cache.invalidate(("account", account))
        return results, len(nodes)

    def _meta_headers(self, req):
        check_metadata(meta_text(req.headers), "account", self.app.constraints)
        extra = {k: v for k, v in req.headers.items() if k.lower().startswith("x-account-meta-")}
        extra.update(translate_removals(req.headers, "account"))
        return extra

    def POST(self, req, account, container, obj):
        check_name(account, "account", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        extra = self._meta_headers(req)
        results, replicas = self._write(req, account, "POST", extra)
        resp = self.write_response(results, replicas)
        if resp.status_int == 404 and self.app.config.account_autocreate:
            if not self.autocreate_account(req, account):
                return error_response(503)
            results, replicas = self._write(req, account, "POST", extra)
            resp = self.write_response(results, replicas)
        return resp

    def PUT(self, req, account, container, obj):
        if not self.app.config.allow_account_management:
            raise MethodNotAllowed("Account management is not enabled")
        check_name(account, "account", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        extra = self._meta_headers(req)
        results, replicas = self._write(req, account, "PUT", extra)
        return self.write_response(results, replicas)

    def DELETE(self, req, account, container, obj):
        if not self.app.config.allow_account_management:
            raise MethodNotAllowed("Account management is not enabled")
        if req.query_string:
            return error_response(400, "Bad request: query string not allowed on account DELETE")
        denied = self.authorize(req)
        if denied is not None:
            return denied
        results, replicas = self._write(req, account, "DELETE", {})
        return self.write_response(results, replicas)
