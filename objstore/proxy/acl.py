"""Container ACLs: parsing and cleaning ``X-Container-Read``/``-Write``
values and matching referrers. Pure; tempauth decides with them.

Syntax (as Swift's): comma-separated elements, each one of
- ``account:user`` or ``account`` (``*`` may stand for either part),
- ``.r:<referrer>``: ``*``, a host (``example.com``), a domain suffix
  (``.example.com``), or a denial (``-host``); read ACLs only,
- ``.rlistings``: referrers may also list the container.
"""

import urllib.parse

from objstore.common.exceptions import BadRequest

_REFERRER_ALIASES = (".r", ".ref", ".referer", ".referrer")


def clean_acl(name, value):
    """Validate and normalize an ACL header value.

    :param name: ``x-container-read`` or ``x-container-write`` (any case).
    :returns: the normalized value (``.referrer:`` spellings become ``.r:``).
    :raises BadRequest: with the reason.
    """
    name = name.lower()
    values = []
    for raw in value.split(","):
        element = raw.strip()
        if not element:
            continue
        if element.startswith("."):
            if element == ".rlistings":
                values.append(element)
                continue
            designator, colon, rest = element.partition(":")
            designator = designator.strip()
            rest = rest.strip()
            if designator not in _REFERRER_ALIASES:
                raise BadRequest("Unknown designator %r in ACL %r" % (designator, value))
            if "write" in name:
                raise BadRequest("Referrers not allowed in write ACL: %r" % value)
            if not colon or not rest or rest == "-":
                raise BadRequest("No host/domain value after referrer designation in ACL: %r" % value)
            if rest.startswith("-"):
                rest = "-" + rest[1:].strip()
            values.append(".r:" + rest)
            continue
        if element.count(":") > 1:
            raise BadRequest("Invalid ACL element %r" % element)
        values.append(element)
    return ",".join(values)


def parse_acl(value):
    """``(referrers, groups)`` of a cleaned ACL value.

    :returns: referrers: list of referrer rules (``*``, ``.example.com``,
        ``-bad.com``, plus ``.rlistings`` when given); groups: list of
        ``account:user`` / ``account`` elements.
    """
    referrers = []
    groups = []
    if not value:
        return referrers, groups
    for raw in value.split(","):
        element = raw.strip()
        if not element:
            continue
        if element == ".rlistings":
            referrers.append(".rlistings")
        elif element.startswith(".r:"):
            referrers.append(element[3:])
        elif element.startswith("."):
            continue
        else:
            groups.append(element)
    return referrers, groups


def referrer_allowed(referrer, rules):
    """Whether a request with this ``Referer`` header passes the rules
    (later rules override earlier ones, so ``*,-bad.com`` denies bad.com)."""
    allowed = False
    host = ""
    if referrer:
        host = urllib.parse.urlparse(referrer).hostname or ""
    for rule in rules:
        if rule == ".rlistings":
            continue
        deny = rule.startswith("-")
        rule = rule[1:] if deny else rule
        if rule == "*" or (host and (host == rule or (rule.startswith(".") and host.endswith(rule)))):
            allowed = not deny
    return allowed


def group_allowed(groups, acl_groups):
    """Whether one of the user's groups (``account:user``, ``account``) is in
    the ACL, ``*`` matching any account or user."""
    for element in acl_groups:
        if element in groups:
            return True
        account, colon, user = element.partition(":")
        for group in groups:
            g_account, g_colon, g_user = group.partition(":")
            if colon and g_colon:
                if account in ("*", g_account) and user in ("*", g_user):
                    return True
            elif not colon and account == "*" and not g_colon:
                return True
    return False
