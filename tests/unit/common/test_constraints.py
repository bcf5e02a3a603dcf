import pytest

from objstore.common.constraints import (
    DEFAULT,
    check_metadata,
    check_name,
    check_object_size,
    load_constraints,
)
from objstore.common.exceptions import ConfigError, ConstraintError, RequestEntityTooLarge


def test_swift_defaults():
    assert DEFAULT.max_file_size == 5368709122
    assert (DEFAULT.max_meta_name_length, DEFAULT.max_meta_value_length) == (128, 256)
    assert (DEFAULT.max_meta_count, DEFAULT.max_meta_overall_size) == (90, 4096)
    assert DEFAULT.max_object_name_length == 1024
    assert DEFAULT.container_listing_limit == 10000


def test_override_from_conf(tmp_path):
    path = tmp_path / "objstore.conf"
    path.write_text("[constraints]\nmax_file_size = 1000\n")
    assert load_constraints(str(path)).max_file_size == 1000
    path.write_text("[constraints]\nmax_file_size = big\n")
    with pytest.raises(ConfigError, match="max_file_size"):
        load_constraints(str(path))


def test_metadata_limits():
    check_metadata({"X-Object-Meta-" + "n" * 128: "v" * 256}, "object")
    with pytest.raises(ConstraintError, match="name too long"):
        check_metadata({"X-Object-Meta-" + "n" * 129: "v"}, "object")
    with pytest.raises(ConstraintError, match="value longer"):
        check_metadata({"X-Object-Meta-n": "v" * 257}, "object")
    with pytest.raises(ConstraintError, match="Too many"):
        check_metadata({"X-Object-Meta-%d" % i: "v" for i in range(91)}, "object")
    with pytest.raises(ConstraintError, match="Total metadata"):
        check_metadata({"X-Container-Meta-%02d" % i: "v" * 200 for i in range(21)}, "container")
    # other kinds' headers are not counted
    check_metadata({"X-Container-Meta-n": "v" * 999}, "object")


def test_names_and_sizes():
    check_name("c", "container")
    with pytest.raises(ConstraintError):
        check_name("", "object")
    with pytest.raises(ConstraintError):
        check_name("o" * 1025, "object")
    with pytest.raises(ConstraintError):
        check_name("a/b", "container")
    with pytest.raises(ConstraintError):
        check_name("a\x00b", "object")
    check_object_size(DEFAULT.max_file_size)
    with pytest.raises(RequestEntityTooLarge):
        check_object_size(DEFAULT.max_file_size + 1)
