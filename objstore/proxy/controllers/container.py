"""Container paths ``/v1/<account>/<container>``: listings, create/delete,
metadata, ACLs and CORS settings."""

from objstore.common.constraints import check_metadata, check_name
from objstore.common.timestamp import Timestamp
from objstore.proxy.controllers import listing
from objstore.proxy.controllers.base import Controller, translate_removals
from objstore.web.app import Response, error_response, meta_text
from objstore.web.backend import quote_path

PASSED_ON_WRITE = ("x-container-read", "x-container-write", "x-container-sync-to", "x-container-sync-key",
                   "x-versions-location", "x-history-location")


class ContainerController(Controller):
    server_type = "Container"

    def __init__(self, app):
        super().__init__(app)
        self.handlers = {"GET": self.GET, "HEAD": self.HEAD, "POST": self.POST, "PUT": self.PUT, "DELETE": self.DELETE}

    def GETorHEAD(self, req, account, container):
        check_name(account, "account", self.app.constraints)
        check_name(container, "container", self.app.constraints)
        denied = self.authorize(req, account, container)
        if denied is not None:
            return denied
        ring = self.app.container_ring
        part, nodes = ring.get_nodes(account, container)
        fmt = listing.listing_format(req)
        path = quote_path(account, container)
        if req.method == "GET":
            path += "?" + listing.backend_query(req, self.app.constraints.container_listing_limit)
        headers = self.backend_headers(req)
        resp, node, _iter, status = self.read(req, ring, part, nodes, req.method, path, headers,
                                              newest=_truthy(req.headers.get("X-Newest")))
        if resp is None:
            if status == 404:
                self.app.info_cache.invalidate(("container", account, container))
            return error_response(status)
        answer = self.read_listing(req, resp, node)
        if answer is None:
            return error_response(503)
        status, out_headers, body = answer
        if status >= 300:
            return Response(status=status, headers=out_headers, body=body)
        out_headers["X-Storage-Policy"] = "Policy-0"
        if req.method == "HEAD":
            out = Response(status=204, headers=out_headers)
            out.content_type = listing.CONTENT_TYPES[fmt]
            out.charset = "utf-8"
            return out
        try:
            entries = listing.decode_listing(body)
        except ValueError:
            return error_response(503, "Bad listing from the container server")
        data = listing.render(entries, fmt, "container", container)
        out = Response(status=200 if data else 204, headers=out_headers)
        out.content_type = listing.CONTENT_TYPES[fmt]
        out.charset = "utf-8"
        if data:
            out.body = data
        return out

    def GET(self, req, account, container, obj):
        return self.GETorHEAD(req, account, container)

    def HEAD(self, req, account, container, obj):
        return self.GETorHEAD(req, account, container)

    def _write_headers(self, req):
        """Metadata, ACL and CORS headers of a PUT/POST, validated."""
        check_metadata(meta_text(req.headers), "container", self.app.constraints)
        extra = {}
        clean_acl = req.environ.get("objstore.clean_acl")
        for key, value in req.headers.items():
            low = key.lower()
            if low.startswith("x-container-meta-"):
                extra[key] = value
            elif low in PASSED_ON_WRITE:
                if clean_acl is not None and low in ("x-container-read", "x-container-write"):
                    value = clean_acl(low, value)  # raises BadRequest on syntax errors
                extra[key] = value
        extra.update(translate_removals(req.headers, "container"))
        return extra

    def _account_headers(self, account, count):
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        result = []
        for index in range(count):
            node = nodes[index % len(nodes)]
            result.append({
                "X-Account-Host": "%s:%s" % (node["ip"], node["port"]),
                "X-Account-Device": node["device"],
                "X-Account-Partition": str(part),
            })
        return result

    def _write(self, req, account, container, method, extra, with_account=False):
        ring = self.app.container_ring
        part, nodes = ring.get_nodes(account, container)
        base = self.backend_headers(req, extra)
        base["X-Timestamp"] = Timestamp.now().internal
        if with_account:
            headers_list = [dict(base, **acct) for acct in self._account_headers(account, len(nodes))]
        else:
            headers_list = [base] * len(nodes)
        results = self.write_all(ring, part, nodes, method, quote_path(account, container), headers_list)
        self.app.info_cache.invalidate(("container", account, container))
        self.app.info_cache.invalidate(("account", account))
        return self.write_response(results, len(nodes))

    def PUT(self, req, account, container, obj):
        check_name(account, "account", self.app.constraints)
        check_name(container, "container", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        extra = self._write_headers(req)
        if self.account_info(req, account) is None:
            if not self.app.config.account_autocreate:
                return error_response(404)
            if not self.autocreate_account(req, account):
                return error_response(503)
        return self._write(req, account, container, "PUT", extra, with_account=True)

    def POST(self, req, account, container, obj):
        check_name(container, "container", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        extra = self._write_headers(req)
        return self._write(req, account, container, "POST", extra)

    def DELETE(self, req, account, container, obj):
        check_name(container, "container", self.app.constraints)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        return self._write(req, account, container, "DELETE", {}, with_account=True)


def _truthy(value):
    return bool(value) and value.strip().lower() in ("true", "1", "yes", "on", "t", "y")
