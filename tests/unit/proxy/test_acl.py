"""ACL cleaning, parsing and matching."""

import pytest

from objstore.common.exceptions import BadRequest
from objstore.proxy import acl


@pytest.mark.parametrize("value,expected", [
    (".r:*", ".r:*"),
    (".r:*,.rlistings", ".r:*,.rlistings"),
    (" .referrer:.example.com , test:tester ", ".r:.example.com,test:tester"),
    (".ref:-bad.com", ".r:-bad.com"),
    ("test2,test:tester3", "test2,test:tester3"),
    ("", ""),
])
def test_clean_read_acl(value, expected):
    assert acl.clean_acl("X-Container-Read", value) == expected


@pytest.mark.parametrize("name,value,reason", [
    ("x-container-read", ".r:", "No host/domain"),
    ("x-container-read", ".r", "No host/domain"),
    ("x-container-read", ".x:y", "Unknown designator"),
    ("x-container-write", ".r:*", "Referrers not allowed in write ACL"),
    ("x-container-read", "a:b:c", "Invalid ACL element"),
])
def test_clean_acl_errors(name, value, reason):
    with pytest.raises(BadRequest) as err:
        acl.clean_acl(name, value)
    assert reason in str(err.value) and err.value.status == 400


def test_parse_acl():
    assert acl.parse_acl(".r:*,.rlistings,test:tester,test2") == (["*", ".rlistings"], ["test:tester", "test2"])
    assert acl.parse_acl("") == ([], [])


@pytest.mark.parametrize("referrer,rules,allowed", [
    (None, ["*"], True),
    ("http://www.example.com/page", [".example.com"], True),
    ("http://example.com/", ["example.com"], True),
    ("http://other.org/", [".example.com"], False),
    ("http://bad.com/", ["*", "-bad.com"], False),
    ("http://good.com/", ["*", "-bad.com"], True),
    (None, [".example.com"], False),
    (None, [".rlistings"], False),
])
def test_referrer_allowed(referrer, rules, allowed):
    assert acl.referrer_allowed(referrer, rules) is allowed


@pytest.mark.parametrize("groups,acl_groups,allowed", [
    (["test:tester3", "test"], ["test:tester3"], True),
    (["test:tester3", "test"], ["test"], True),
    (["test2:tester2", "test2"], ["test:tester3"], False),
    (["test2:tester2", "test2"], ["*:tester2"], True),
    (["test2:tester2", "test2"], ["test2:*"], True),
    (["test2:tester2", "test2"], ["*"], True),
    ([], ["test"], False),
])
def test_group_allowed(groups, acl_groups, allowed):
    assert acl.group_allowed(groups, acl_groups) is allowed
