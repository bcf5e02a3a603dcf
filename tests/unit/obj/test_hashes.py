"""Which files matter, suffix hashes, the hashes file and its journal."""

import os

import pytest

from objstore.common import encoding
from objstore.obj import hashes as h

A, B, C = "1700000001.00000", "1700000002.00000", "1700000003.00000"


@pytest.mark.parametrize("names,data,meta,ts,obsolete", [
    ([], None, None, None, []),
    ([A + ".data"], A + ".data", None, None, []),
    ([A + ".data", B + ".data"], B + ".data", None, None, [A + ".data"]),
    ([A + ".data", B + ".meta"], A + ".data", B + ".meta", None, []),
    ([A + ".data", B + ".meta", C + ".meta"], A + ".data", C + ".meta", None, [B + ".meta"]),
    ([A + ".meta", B + ".data"], B + ".data", None, None, [A + ".meta"]),
    ([A + ".data", B + ".ts"], None, None, B + ".ts", [A + ".data"]),
    ([A + ".data", B + ".ts", C + ".meta"], None, None, B + ".ts", [C + ".meta", A + ".data"]),
    ([B + ".ts", C + ".data", "junk", A + ".meta"], C + ".data", None, None, [B + ".ts", A + ".meta"]),
    ([A + ".data", A + ".ts"], None, None, A + ".ts", [A + ".data"]),
    ([A + "_0000000000000001.data", A + ".data"], A + "_0000000000000001.data", None, None, [A + ".data"]),
])
def test_gather_files(names, data, meta, ts, obsolete):
    got = h.gather_files(names)
    assert (got["data"], got["meta"], got["ts"]) == (data, meta, ts)
    assert got["obsolete"] == obsolete


def test_gather_files_reclaims_old_tombstones():
    assert h.gather_files([A + ".ts"], reclaim_before=1700000002)["obsolete"] == [A + ".ts"]
    assert h.gather_files([A + ".ts"], reclaim_before=1700000000)["ts"] == A + ".ts"


def test_diff_and_parse_suffixes():
    assert h.diff_hashes({"abc": "1", "def": "2", "fed": None}, {"abc": "1", "def": "3"}) == ["def"]
    assert h.diff_hashes({"abc": "1"}, {}) == ["abc"]
    assert h.parse_suffixes("abc-def") == ["abc", "def"]
    assert h.parse_suffixes(None) == []
    for bad in ("abcd", "ABC", "ab-"):
        with pytest.raises(ValueError):
            h.parse_suffixes(bad)


def _object(partition, suffix, name_hash, *names):
    path = os.path.join(partition, suffix, name_hash)
    os.makedirs(path, exist_ok=True)
    for name in names:
        open(os.path.join(path, name), "w").close()
    return path


def test_get_hashes_and_journal(tmp_path):
    part = str(tmp_path / "objects" / "7")
    assert h.get_hashes(part) == {}
    _object(part, "abc", "0" * 29 + "abc", A + ".data")
    _object(part, "def", "1" * 29 + "def", A + ".ts")
    first = h.get_hashes(part, now=1700000010)
    assert sorted(first) == ["abc", "def"]
    _version, stored = encoding.unpack(open(os.path.join(part, h.HASHES_FILE), "rb").read())
    assert stored == first
    # a change is journaled, not written to the hashes file
    _object(part, "abc", "0" * 29 + "abc", B + ".data")
    h.invalidate_suffix(part, "abc")
    assert open(os.path.join(part, h.INVALID_FILE)).read() == "abc\n"
    assert encoding.unpack(open(os.path.join(part, h.HASHES_FILE), "rb").read())[1] == first
    second = h.get_hashes(part, now=1700000010)
    assert second["abc"] != first["abc"] and second["def"] == first["def"]
    assert open(os.path.join(part, h.INVALID_FILE)).read() == ""
    # the older .data was cleaned while hashing
    assert os.listdir(os.path.join(part, "abc", "0" * 29 + "abc")) == [B + ".data"]
    # reclaiming the old tombstone empties its suffix
    third = h.get_hashes(part, recalculate=["def"], now=1700000001 + 604800 + 1)
    assert sorted(third) == ["abc"] and not os.path.exists(os.path.join(part, "def"))


def test_unchanged_content_same_hash_and_missing_file_recomputes(tmp_path):
    part_a = str(tmp_path / "a")
    part_b = str(tmp_path / "b")
    for part in (part_a, part_b):
        _object(part, "abc", "0" * 29 + "abc", A + ".data", B + ".meta")
    assert h.get_hashes(part_a) == h.get_hashes(part_b)
    h.clear_hashes(part_a)
    open(os.path.join(part_a, h.HASHES_FILE), "wb").write(b"corrupt")
    assert h.get_hashes(part_a) == h.get_hashes(part_b)
