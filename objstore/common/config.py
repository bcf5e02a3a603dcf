"""INI configuration into typed, frozen settings.

Each component declares one frozen dataclass whose fields are its options,
each made with :func:`option` (a default and a one-line ``doc``). This module
reads INI files and converts the strings into those types; it knows nothing of
any particular component.

Errors name the file, the section, the key and the bad value, so an operator
can fix the file without reading code.
"""

import configparser
import dataclasses
import os
import typing

from objstore.common.exceptions import ConfigError

TRUE_VALUES = frozenset(("true", "1", "yes", "on", "t", "y"))
FALSE_VALUES = frozenset(("false", "0", "no", "off", "f", "n"))


def option(default, doc):
    """A config field with its default and a one-line meaning.

    Mutable defaults (lists, dicts) are given as tuples; they become immutable
    settings anyway.
    """
    return dataclasses.field(default=default, metadata={"doc": doc})


def config_true(value):
    """True for the INI spellings of yes (``true``, ``1``, ``yes``, ``on``...)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_VALUES


def parse_bool(text):
    low = str(text).strip().lower()
    if low in TRUE_VALUES:
        return True
    if low in FALSE_VALUES:
        return False
    raise ValueError("not a boolean")


def _convert(type_, text):
    if type_ is bool:
        return parse_bool(text)
    if type_ is int:
        return int(str(text).strip(), 0) if str(text).strip().lower().startswith(("0x", "0o")) else int(str(text).strip())
    if type_ is float:
        return float(text)
    if type_ is str:
        return str(text)
    origin = typing.get_origin(type_)
    if origin is tuple:
        args = typing.get_args(type_)
        inner = args[0] if args else str
        items = [item.strip() for item in str(text).replace(",", " ").split()]
        return tuple(_convert(inner, item) for item in items if item)
    if origin is typing.Union:  # Optional[X]
        args = [arg for arg in typing.get_args(type_) if arg is not type(None)]
        if str(text).strip().lower() in ("", "none"):
            return None
        return _convert(args[0], text)
    raise TypeError("unsupported option type %r" % (type_,))


def read_ini(path):
    """Parse an INI file into ``{section: {key: value}}`` (DEFAULT merged in).

    :raises ConfigError: when the file is missing, unreadable or malformed.
    """
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive, as tempauth user names
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as err:
        raise ConfigError("%s: cannot read config: %s" % (path, err.strerror)) from None
    except configparser.Error as err:
        first = str(err).splitlines()[0]
        raise ConfigError("%s: malformed config: %s" % (path, first)) from None
    result = {}
    for name in parser.sections():
        result[name] = dict(parser.items(name))
    return result


def build(cls, values, source="<dict>", section="<none>", allow_unknown=()):
    """Build a settings dataclass from a ``{key: string}`` mapping.

    :param cls: the frozen dataclass listing the options.
    :param values: raw strings (or already typed values) by key.
    :param allow_unknown: keys to pass over silently (for example ``use``).
    :raises ConfigError: an unknown key or a value that does not convert.
    """
    fields = {field.name: field for field in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, raw in values.items():
        if key in allow_unknown or key.startswith("set "):
            continue
        if key not in fields:
            raise ConfigError("%s [%s]: unknown option %r = %r" % (source, section, key, raw))
        try:
            if isinstance(raw, str):
                kwargs[key] = _convert(hints[key], raw)
            else:
                kwargs[key] = raw
        except (TypeError, ValueError):
            raise ConfigError(
                "%s [%s]: bad value for %s: %r (expected %s)"
                % (source, section, key, raw, _type_name(hints[key]))
            ) from None
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as err:
            raise ConfigError("%s [%s]: %s" % (source, section, err)) from None
    return obj


def _type_name(type_):
    return getattr(type_, "__name__", str(type_))


def load_section(path, section, cls, required=False, allow_unknown=()):
    """Read ``section`` of the INI file at ``path`` into ``cls``.

    A missing section gives the defaults unless ``required``.
    Keys in ``[DEFAULT]`` that ``cls`` does not know are ignored (they serve
    other sections); keys set in the section itself must be known.
    """
    sections = read_ini(path)
    return section_from(sections, path, section, cls, required, allow_unknown)


def section_from(sections, path, section, cls, required=False, allow_unknown=()):
    """As :func:`load_section` on an already parsed ``read_ini`` result."""
    if section not in sections:
        if required:
            raise ConfigError("%s: missing section [%s]" % (path, section))
        return build(cls, {}, path, section)
    values = dict(sections[section])
    known = {field.name for field in dataclasses.fields(cls)}
    defaults = _defaults_of(path)
    for key in list(values):
        if key in defaults and key not in known and values[key] == defaults[key]:
            del values[key]  # inherited from [DEFAULT], meant for another section
    return build(cls, values, path, section, allow_unknown)


def _defaults_of(path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return {}
    return dict(parser.defaults())


def options_of(cls):
    """``[(name, default, doc)]`` for every option of a settings class."""
    result = []
    for field in dataclasses.fields(cls):
        result.append((field.name, field.default, field.metadata.get("doc", "")))
    return result


def format_value(value):
    """How a default is written in a sample config."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    if value is None:
        return ""
    return str(value)
