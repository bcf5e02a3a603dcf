import pytest

from objstore.common.exceptions import InvalidTimestamp
from objstore.common.timestamp import Timestamp, normalize_delete_at


def test_normal_form_is_swift_compatible():
    assert Timestamp("1700000000.12345").normal == "1700000000.12345"
    assert Timestamp(1700000000).normal == "1700000000.00000"
    assert Timestamp("1700000000").normal == "1700000000.00000"
    assert Timestamp("1700000000.1").normal == "1700000000.10000"


def test_float_rounds_to_ten_microseconds():
    assert Timestamp(1700000000.123456).normal == "1700000000.12346"


def test_internal_form_carries_offset():
    ts = Timestamp("1700000000.12345", offset=3)
    assert ts.internal == "1700000000.12345_0000000000000003"
    assert Timestamp(ts.internal) == ts
    assert Timestamp("1700000000.12345").internal == "1700000000.12345"


def test_total_ordering_with_offsets():
    a = Timestamp("1700000000.12345")
    b = Timestamp("1700000000.12345", offset=1)
    c = Timestamp("1700000000.12346")
    assert a < b < c
    assert sorted([c, b, a]) == [a, b, c]
    assert a == "1700000000.12345"
    assert a != b
    assert len({a, Timestamp(a.internal), b}) == 2


def test_comparison_with_none_is_never_equal():
    assert Timestamp(1) != None  # noqa: E711
    assert not (Timestamp(1) < None)


@pytest.mark.parametrize("bad", ["abc", "-1", "1.2.3", "", "1700000000.1_zz", None, [1]])
def test_invalid_values_raise(bad):
    with pytest.raises(InvalidTimestamp):
        Timestamp(bad)


def test_http_date_rounds_up():
    assert Timestamp("0.5").http_date == "Thu, 01 Jan 1970 00:00:01 GMT"
    assert Timestamp("0").http_date == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_now_uses_time(monkeypatch):
    monkeypatch.setattr("time.time", lambda: 1234.5)
    assert Timestamp.now().normal == "0000001234.50000"


def test_delete_at():
    assert normalize_delete_at("1700000000") == 1700000000
    with pytest.raises(InvalidTimestamp):
        normalize_delete_at("soon")
