import pytest

from objstore.common.exceptions import BadRequest, NotFound
from objstore.web.app import BaseApp, Request, Response, split_path


def test_split_path():
    assert split_path("/a", 1) == ["a"]
    assert split_path("/a/c", 1, 3) == ["a", "c", None]
    assert split_path("/d/p/a/c/o/with/slashes", 3, 5, True) == ["d", "p", "a", "c", "o/with/slashes"]
    assert split_path("/a/", 1, 2) == ["a", None]
    for bad, args in [("a", (1,)), ("/", (1,)), ("//c", (2,)), ("/a/b/c", (1, 2)), ("/a//c", (1, 3))]:
        with pytest.raises(BadRequest):
            split_path(bad, *args)


class App(BaseApp):
    def __init__(self, logger):
        super().__init__(logger)
        self.routes = {"GET": self.GET, "DELETE": self.DELETE}

    def GET(self, req):
        return Response(body=b"x" * 10)

    def DELETE(self, req):
        raise NotFound("no such thing")


def test_routes_errors_and_access_log(capture):
    logger, handler = capture
    app = App(logger)
    resp = Request.blank("/p?q=1").get_response(app)
    assert resp.status_int == 200 and resp.headers["X-Trans-Id"].startswith("tx")
    assert resp.body == b"x" * 10  # the access line is written once the body is sent
    resp = Request.blank("/p", method="DELETE").get_response(app)
    assert resp.status_int == 404 and resp.body == b"no such thing\n"
    resp = Request.blank("/p", method="PUT").get_response(app)
    assert resp.status_int == 405 and resp.headers["Allow"] == "DELETE, GET"
    assert resp.body == b"Method Not Allowed\n"
    lines = handler.lines()
    assert '"GET /p?q=1" 200 10' in lines[0]
    assert '"DELETE /p" 404' in lines[1]
    assert '"PUT /p" 405' in lines[2]


def test_trans_id_is_kept_from_request(capture):
    resp = Request.blank("/", headers={"X-Trans-Id": "tx-given"}).get_response(App(capture[0]))
    assert resp.headers["X-Trans-Id"] == "tx-given"


def test_meta_text_counts_utf8_once():
    from objstore.common.constraints import check_metadata
    from objstore.web.app import meta_text

    value = ("\u00e9" * 128).encode("utf-8").decode("latin-1")  # 256 UTF-8 bytes, as WSGI hands them over
    headers = {"X-Object-Meta-Name": value, "Content-Type": "text/plain"}
    assert meta_text(headers)["X-Object-Meta-Name"] == "\u00e9" * 128
    assert meta_text(headers)["Content-Type"] == "text/plain"
    check_metadata(meta_text(headers), "object")  # exactly at the limit: allowed



def test_accept_qualities():
    from objstore.web.app import accept_qualities

    assert accept_qualities("application/json;q=0.5, Text/XML , */*;q=x") == [
        ("application/json", 0.5), ("text/xml", 1.0), ("*/*", 0.0)]
