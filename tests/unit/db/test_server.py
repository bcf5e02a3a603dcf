"""The shared DB server parts: metadata headers in and out, the REPLICATE
protocol driven by hand between two container servers (two device dirs), and
the config samples of both DB kinds (server and the shared daemons)."""

import configparser
import io
import os

import pytest

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common import encoding
from objstore.common.config import options_of
from objstore.common.constraints import DEFAULT
from objstore.common.hashing import hash_path
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.container.updater import ContainerUpdaterConfig
from objstore.daemon.runner import INHERITED_KEYS
from objstore.db.auditor import DBAuditorConfig
from objstore.db.replicator import DBReplicatorConfig
from objstore.common.exceptions import (
    BadRequest,
    ClientDisconnect,
    ClientTimeout,
    InsufficientStorage,
    LengthRequired,
)
from objstore.db.server import (
    REPLICATE_VERSION,
    body_length,
    metadata_headers,
    metadata_updates,
    put_db_headers,
    receive_body,
    stat_headers,
)
from objstore.web.app import Request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def ts(n):
    return "%010d.%05d" % (n, 0)


def test_metadata_updates_and_headers():
    headers = {"x-container-meta-a": "1", "X-Container-Meta-": "x", "X-CONTAINER-READ": "r",
               "Content-Type": "t", "X-Container-Sysmeta-B": ""}
    updates = metadata_updates(headers, ("x-container-meta-", "x-container-sysmeta-"),
                               {"x-container-read"}, ts(3))
    assert updates == {"X-Container-Meta-A": ("1", ts(3)), "X-Container-Read": ("r", ts(3)),
                       "X-Container-Sysmeta-B": ("", ts(3))}
    assert metadata_headers({"A": ["1", ts(1)], "B": ["", ts(2)]}) == {"A": "1"}


def test_stat_headers_counts_timestamps_backend_and_metadata():
    info = {"object_count": 2, "bytes_used": 30, "created_at": "0000000001.50000", "put_timestamp": ts(2),
            "delete_timestamp": ts(0), "status_changed_at": ts(2), "metadata": {"X-Container-Meta-A": ["1", ts(2)]}}
    assert stat_headers(info, (("X-Container-Object-Count", "object_count"),)) == {
        "X-Container-Object-Count": "2", "X-Timestamp": "0000000001.50000", "X-PUT-Timestamp": ts(2),
        "X-Backend-Timestamp": "0000000001.50000", "X-Backend-Put-Timestamp": ts(2),
        "X-Backend-Delete-Timestamp": ts(0), "X-Backend-Status-Changed-At": ts(2), "X-Container-Meta-A": "1"}


def make(tmp_path, name, logger):
    devices = tmp_path / name
    (devices / "sda").mkdir(parents=True)
    return ContainerServer(ContainerServerConfig(devices=str(devices), mount_check=False), logger, DEFAULT)


@pytest.fixture
def pair(tmp_path, objstore_conf, capture):
    return make(tmp_path, "n1", capture[0]), make(tmp_path, "n2", capture[0])


def call(app, method, path, headers=None):
    return Request.blank(path, method=method, headers=headers or {}).get_response(app)


def replicate(app, op, part=1, name_hash=None, **args):
    args["op"] = op
    req = Request.blank("/sda/%d/%s" % (part, name_hash or hash_path("a", "c")), method="REPLICATE")
    req.body = encoding.pack(args, REPLICATE_VERSION)
    resp = req.get_response(app)
    body = encoding.unpack(resp.body, (REPLICATE_VERSION,))[1] if resp.status_int < 300 else resp.body
    return resp.status_int, body


def sync_args(broker):
    info = broker.get_info()
    return {"id": info["id"], "max_row": info["max_row"],
            "info": {k: info[k] for k in ("created_at", "put_timestamp", "delete_timestamp", "metadata")}}


def test_replicate_whole_db_then_rows(pair, tmp_path):
    one, two = pair
    call(one, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1), "X-Container-Meta-A": "1"})
    for i in range(5):
        call(one, "PUT", "/sda/1/a/c/o%d" % i, {"X-Timestamp": ts(2), "X-Size": "3",
                                                "X-Content-Type": "t", "X-Etag": "e"})
    b1 = one.broker_for("sda", 1, "a", "c")
    status, _ = replicate(two, "sync", **sync_args(b1))
    assert status == 404  # the peer lacks it: send it whole
    copy = str(tmp_path / "copy.db")
    b1.backup_to(copy)
    with open(copy, "rb") as handle:
        data = handle.read()
    status, _ = replicate(two, "put_db", db=data, source=b1.get_info()["id"])
    assert status == 201
    b2 = two.broker_for("sda", 1, "a", "c")
    info2 = b2.get_info()
    assert info2["object_count"] == 5 and info2["id"] != b1.get_info()["id"]
    assert sorted(os.listdir(os.path.join(two.config.devices, "sda", "tmp"))) == []
    # now only the new rows go over
    call(one, "PUT", "/sda/1/a/c/o9", {"X-Timestamp": ts(3), "X-Size": "4", "X-Content-Type": "t", "X-Etag": "e"})
    call(one, "DELETE", "/sda/1/a/c/o0", {"X-Timestamp": ts(3)})
    status, answer = replicate(two, "sync", **sync_args(b1))
    assert status == 200
    assert answer["point"] == 5 and answer["id"] == info2["id"]
    rows = b1.get_items_since(answer["point"], 100)
    assert [r["name"] for r in rows] == ["o9", "o0"]
    status, answer = replicate(two, "merge_items", items=rows, source=b1.get_info()["id"])
    assert status == 202 and answer["max_row"] == 7
    assert b2.get_sync(b1.get_info()["id"]) == rows[-1]["ROWID"]
    h = call(two, "HEAD", "/sda/1/a/c").headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("5", "16")
    assert h["X-Container-Meta-A"] == "1"
    # replaying the same rows changes nothing
    replicate(two, "merge_items", items=rows, source=b1.get_info()["id"])
    assert b2.get_info()["max_row"] == 7


def test_replicate_sync_merges_timestamps_and_metadata(pair):
    one, two = pair
    call(one, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
    call(two, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(2), "X-Container-Meta-B": "2"})
    b1 = one.broker_for("sda", 1, "a", "c")
    b1.update_metadata({"X-Container-Meta-A": ("1", ts(3))})
    b1.delete_db(ts(4))
    status, answer = replicate(two, "sync", **sync_args(b1))
    assert status == 200 and answer["point"] == -1
    assert answer["info"]["delete_timestamp"] == ts(4)
    assert call(two, "HEAD", "/sda/1/a/c").status_int == 404  # the delete replicated


def test_replicate_legacy_put_db_onto_an_existing_db_merges(pair, tmp_path):
    one, two = pair
    for app, names in ((one, ["x", "y"]), (two, ["y", "z"])):
        call(app, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
        for name in names:
            call(app, "PUT", "/sda/1/a/c/" + name, {"X-Timestamp": ts(2), "X-Size": "1",
                                                   "X-Content-Type": "t", "X-Etag": "e"})
    copy = str(tmp_path / "copy.db")
    one.broker_for("sda", 1, "a", "c").backup_to(copy)
    status, _ = replicate(two, "put_db", db=open(copy, "rb").read(), source="peer")
    assert status == 202
    assert call(two, "GET", "/sda/1/a/c").body == b"x\ny\nz\n"


def test_replicate_merge_syncs_and_errors(pair):
    one, _two = pair
    call(one, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
    status, _ = replicate(one, "merge_syncs", sync_points=[{"remote_id": "p", "sync_point": 4}])
    assert status == 202
    assert one.broker_for("sda", 1, "a", "c").get_sync("p") == 4
    assert replicate(one, "bogus")[0] == 400
    assert replicate(one, "merge_items", name_hash="0" * 32, items=[])[0] == 404
    assert replicate(one, "sync", name_hash="nothex")[0] == 400
    req = Request.blank("/sda/1/" + hash_path("a", "c"), method="REPLICATE")
    req.body = b"garbage"
    assert req.get_response(one).status_int == 400
    req = Request.blank("/sdz/1/" + hash_path("a", "c"), method="REPLICATE")
    req.body = encoding.pack({"op": "sync"}, REPLICATE_VERSION)
    assert req.get_response(one).status_int == 507


def test_replicate_legacy_put_db_rejects_a_corrupt_copy(pair, tmp_path):
    one, two = pair
    call(one, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
    copy = str(tmp_path / "copy.db")
    one.broker_for("sda", 1, "a", "c").backup_to(copy)
    data = bytearray(open(copy, "rb").read())
    data[4096:8192] = b"\xff" * 4096
    status, _ = replicate(two, "put_db", db=bytes(data), source="peer")
    assert status == 400
    assert call(two, "HEAD", "/sda/1/a/c").status_int == 404
    assert os.listdir(os.path.join(two.config.devices, "sda", "tmp")) == []


# --- streamed put_db -----------------------------------------------------------------------------------
def test_put_db_headers_and_body_length():
    assert put_db_headers("id1", 4096) == {"X-Replicate-Op": "put_db", "X-Replicate-Source": "id1",
                                           "Content-Type": "application/vnd.sqlite3", "Content-Length": "4096"}
    assert body_length({"Content-Length": "12"}) == 12
    with pytest.raises(LengthRequired):
        body_length({})
    with pytest.raises(BadRequest):
        body_length({"Content-Length": "-1"})


class _Stalling(io.BytesIO):
    def read(self, size=-1):
        raise TimeoutError("timed out")


class _Full:
    def write(self, data):
        raise OSError(28, "No space left on device")


def test_receive_body_reads_exactly_the_length_in_chunks():
    out = io.BytesIO()
    source = io.BytesIO(b"abcdefghij-next request")
    receive_body(source, out, 10, chunk=3)
    assert out.getvalue() == b"abcdefghij" and source.read() == b"-next request"
    receive_body(io.BytesIO(b""), out, 0)
    with pytest.raises(ClientDisconnect, match="after 4 of 10"):
        receive_body(io.BytesIO(b"abcd"), io.BytesIO(), 10, chunk=3)
    with pytest.raises(ClientTimeout):
        receive_body(_Stalling(), io.BytesIO(), 10)
    with pytest.raises(InsufficientStorage):
        receive_body(io.BytesIO(b"abcd"), _Full(), 4)


def put_db_stream(app, data, length=None, op="put_db", source="peer", name_hash=None, device="sda"):
    """A streamed put_db of ``data`` announced as ``length`` bytes; ``(status, body)``."""
    headers = put_db_headers(source, len(data) if length is None else length)
    headers["X-Replicate-Op"] = op
    req = Request.blank("/%s/1/%s" % (device, name_hash or hash_path("a", "c")), method="REPLICATE",
                        headers=headers)
    req.environ["wsgi.input"] = io.BytesIO(data)
    resp = req.get_response(app)
    body = encoding.unpack(resp.body, (REPLICATE_VERSION,))[1] if resp.status_int < 300 else resp.body
    return resp.status_int, body


def db_bytes(app, tmp_path, names, name="copy.db"):
    """The file of a consistent copy of ``app``'s ``a/c`` holding objects ``names``."""
    call(app, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
    for obj in names:
        call(app, "PUT", "/sda/1/a/c/" + obj, {"X-Timestamp": ts(2), "X-Size": "1", "X-Content-Type": "t",
                                               "X-Etag": "e"})
    copy = str(tmp_path / name)
    app.broker_for("sda", 1, "a", "c").backup_to(copy)
    with open(copy, "rb") as handle:
        return handle.read()


def tmp_listing(app):
    return os.listdir(os.path.join(app.config.devices, "sda", "tmp"))


def test_streamed_put_db_creates_the_db(pair, tmp_path):
    one, two = pair
    data = db_bytes(one, tmp_path, ["x", "y"])
    source = one.broker_for("sda", 1, "a", "c").get_info()
    assert put_db_stream(two, data, source=source["id"]) == (201, {})
    b2 = two.broker_for("sda", 1, "a", "c")
    info = b2.get_info()
    assert info["object_count"] == 2 and info["id"] != source["id"]
    assert b2.get_sync(source["id"]) == source["max_row"]
    assert call(two, "GET", "/sda/1/a/c").body == b"x\ny\n"
    assert tmp_listing(two) == []


def test_streamed_put_db_onto_an_existing_db_merges(pair, tmp_path):
    one, two = pair
    data = db_bytes(one, tmp_path, ["x", "y"])
    db_bytes(two, tmp_path, ["y", "z"], name="mine.db")
    mine = two.broker_for("sda", 1, "a", "c").get_info()["id"]
    assert put_db_stream(two, data, source="peer") == (202, {})
    b2 = two.broker_for("sda", 1, "a", "c")
    assert call(two, "GET", "/sda/1/a/c").body == b"x\ny\nz\n"
    assert b2.get_info()["id"] == mine  # merged into, not replaced
    assert b2.get_sync("peer") == one.broker_for("sda", 1, "a", "c").get_info()["max_row"]
    assert tmp_listing(two) == []


@pytest.mark.parametrize("existing", [False, True])
def test_streamed_put_db_short_body_touches_nothing(pair, tmp_path, existing):
    one, two = pair
    data = db_bytes(one, tmp_path, ["x", "y"])
    if existing:
        db_bytes(two, tmp_path, ["z"], name="mine.db")
    before = call(two, "GET", "/sda/1/a/c")
    status, _ = put_db_stream(two, data[:len(data) // 2], length=len(data))
    assert status == 499
    after = call(two, "GET", "/sda/1/a/c")
    assert (after.status_int, after.body) == (before.status_int, before.body)
    assert after.status_int == (200 if existing else 404)
    assert tmp_listing(two) == []


@pytest.mark.parametrize("existing", [False, True])
def test_streamed_put_db_corrupt_copy_is_refused(pair, tmp_path, existing):
    one, two = pair
    data = bytearray(db_bytes(one, tmp_path, ["x"]))
    data[4096:8192] = b"\xff" * 4096
    if existing:
        db_bytes(two, tmp_path, ["z"], name="mine.db")
    assert put_db_stream(two, bytes(data))[0] == 400
    assert put_db_stream(two, b"not a database at all" * 100)[0] == 400
    assert put_db_stream(two, b"")[0] == 400  # an empty file is an empty SQLite DB: no stat table
    resp = call(two, "GET", "/sda/1/a/c")
    assert (resp.status_int, resp.body) == ((200, b"z\n") if existing else (404, resp.body))
    assert tmp_listing(two) == []


def test_streamed_put_db_of_another_kind_is_refused(pair, tmp_path, capture):
    _one, two = pair
    devices = tmp_path / "acct"
    (devices / "sda").mkdir(parents=True)
    accounts = AccountServer(AccountServerConfig(devices=str(devices), mount_check=False), capture[0], DEFAULT)
    call(accounts, "PUT", "/sda/1/a", {"X-Timestamp": ts(1)})
    copy = str(tmp_path / "account.db")
    accounts.broker_for("sda", 1, "a").backup_to(copy)
    status, body = put_db_stream(two, open(copy, "rb").read())
    assert status == 400 and b"not a container database" in body
    assert call(two, "HEAD", "/sda/1/a/c").status_int == 404
    assert tmp_listing(two) == []


def test_streamed_put_db_request_errors(pair, tmp_path):
    one, two = pair
    data = db_bytes(one, tmp_path, ["x"])
    assert put_db_stream(two, data, op="merge_items")[0] == 400
    assert put_db_stream(two, data, device="sdz")[0] == 507
    req = Request.blank("/sda/1/" + hash_path("a", "c"), method="REPLICATE",
                        headers={"X-Replicate-Op": "put_db", "Transfer-Encoding": "chunked"})
    req.environ["wsgi.input"] = io.BytesIO(data)
    assert req.get_response(two).status_int == 411
    assert call(two, "HEAD", "/sda/1/a/c").status_int == 404


# --- config samples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,server_config,daemons", [
    ("account", AccountServerConfig, {"account-replicator": DBReplicatorConfig,
                                      "account-auditor": DBAuditorConfig}),
    ("container", ContainerServerConfig, {"container-replicator": DBReplicatorConfig,
                                          "container-auditor": DBAuditorConfig,
                                          "container-updater": ContainerUpdaterConfig}),
])
def test_conf_sample_lists_every_option(kind, server_config, daemons):
    path = os.path.join(ROOT, "etc", "%s-server.conf-sample" % kind)
    documented = {}
    section = None
    for line in open(path).read().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
            documented[section] = set()
        elif line.startswith("# ") and " = " in line:
            documented[section].add(line[2:].split(" = ")[0])
    assert documented["%s-server" % kind] == {name for name, _d, _doc in options_of(server_config)}
    for daemon, config in daemons.items():
        assert documented[daemon] == {name for name, _d, _doc in options_of(config) if name not in INHERITED_KEYS}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    assert {"%s-server" % kind, "%s-replicator" % kind} <= set(parser.sections())
