"""API constraints with Swift's defaults, overridable in objstore.conf's
``[constraints]`` section, and the pure checks that use them.

No HTTP types here: checks take plain dicts of headers and raise
:class:`ConstraintError` (400) or :class:`RequestEntityTooLarge` (413).
"""

import dataclasses
import os

from objstore.common.config import build, option, read_ini
from objstore.common.exceptions import ConstraintError, RequestEntityTooLarge


@dataclasses.dataclass(frozen=True)
class Constraints:
    max_file_size: int = option(5368709122, "largest object, in bytes (5 GiB + 2)")
    max_meta_name_length: int = option(128, "longest metadata name, in bytes")
    max_meta_value_length: int = option(256, "longest metadata value, in bytes")
    max_meta_count: int = option(90, "most metadata items on one account, container or object")
    max_meta_overall_size: int = option(4096, "most bytes of names plus values of all metadata")
    max_header_size: int = option(8192, "longest request header line, in bytes")
    max_object_name_length: int = option(1024, "longest object name, in bytes of UTF-8")
    container_listing_limit: int = option(10000, "most entries in one container listing page")
    account_listing_limit: int = option(10000, "most entries in one account listing page")
    max_account_name_length: int = option(256, "longest account name, in bytes")
    max_container_name_length: int = option(256, "longest container name, in bytes")
    extra_header_count: int = option(0, "headers allowed beyond max_meta_count")
    valid_api_versions: tuple[str, ...] = option(("v1", "v1.0"), "path prefixes accepted as API versions")

    def as_info(self):
        """The ``swift`` section of ``/info``."""
        info = dataclasses.asdict(self)
        info["valid_api_versions"] = list(self.valid_api_versions)
        return info


DEFAULT = Constraints()


def load_constraints(path):
    """Constraints from objstore.conf's ``[constraints]``; defaults if absent."""
    if not path or not os.path.exists(path):
        return DEFAULT
    section = read_ini(path).get("constraints", {})
    return build(Constraints, section, path, "constraints")


def _meta_prefix(kind):
    return "x-%s-meta-" % kind


def check_metadata(headers, kind, constraints=DEFAULT):
    """Validate user metadata headers of an ``account``, ``container`` or ``object``.

    :param headers: a mapping of header name to value (names any case).
    :raises ConstraintError: with the reason, as Swift words it.
    """
    prefix = _meta_prefix(kind)
    count = 0
    size = 0
    for key, value in headers.items():
        low = key.lower()
        if not low.startswith(prefix):
            continue
        name = low[len(prefix):]
        if not name:
            raise ConstraintError("Metadata name cannot be empty")
        value = value if isinstance(value, str) else str(value)
        name_len = len(name.encode("utf-8", "surrogateescape"))
        value_len = len(value.encode("utf-8", "surrogateescape"))
        count += 1
        size += name_len + value_len
        if name_len > constraints.max_meta_name_length:
            raise ConstraintError(
                "Metadata name too long: %s%s" % (prefix, name)
            )
        if value_len > constraints.max_meta_value_length:
            raise ConstraintError(
                "Metadata value longer than %d: %s%s"
                % (constraints.max_meta_value_length, prefix, name)
            )
        if count > constraints.max_meta_count:
            raise ConstraintError("Too many metadata items; max %d" % constraints.max_meta_count)
        if size > constraints.max_meta_overall_size:
            raise ConstraintError(
                "Total metadata too large; max %d" % constraints.max_meta_overall_size
            )


def check_object_size(content_length, constraints=DEFAULT):
    if content_length is not None and content_length > constraints.max_file_size:
        raise RequestEntityTooLarge("Your request is too large.")


def check_name(name, kind, constraints=DEFAULT):
    """Validate an account, container or object name.

    :raises ConstraintError: empty, too long, or not valid UTF-8.
    """
    limits = {
        "account": constraints.max_account_name_length,
        "container": constraints.max_container_name_length,
        "object": constraints.max_object_name_length,
    }
    if not name:
        raise ConstraintError("%s name cannot be empty" % kind.capitalize())
    try:
        encoded = name.encode("utf-8") if isinstance(name, str) else name
        encoded.decode("utf-8")
    except UnicodeError:
        raise ConstraintError("Invalid UTF8 or contains NULL") from None
    if b"\x00" in encoded:
        raise ConstraintError("Invalid UTF8 or contains NULL")
    if len(encoded) > limits[kind]:
        raise ConstraintError(
            "%s name length of %d longer than %d" % (kind.capitalize(), len(encoded), limits[kind])
        )
    if kind == "container" and "/" in name:
        raise ConstraintError("Container name cannot contain slashes")
