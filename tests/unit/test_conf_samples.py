"""Every option of every config dataclass appears, with its default, in the
matching ``etc/*.conf-sample``; and every sample loads cleanly in the program
that reads it.

The config classes are discovered by importing every module of the package,
so a new server, daemon or middleware is checked as soon as it lands:

- a daemon (a ``Daemon`` subclass) has its section ``[<name>]`` in its
  server's sample (the file it reads) or in ``etc/<name>.conf-sample``; both
  are checked where both have it; the keys it inherits from the server's
  section may be shown there instead;
- a server's ``<Kind>ServerConfig`` is ``[<kind>-server]`` of
  ``etc/<kind>-server.conf-sample``;
- a proxy middleware's ``Config`` is ``[filter:<name>]`` of the proxy sample;
- any other ``FooBarConfig`` is ``[foo-bar]`` of whichever sample has it;
- a class only subclassed by others (``ServerConfig``) is a base, not a section.

On a mismatch the message shows the lines to paste.
"""

import dataclasses
import importlib
import os
import re

import pytest

import objstore
from objstore.cli import catalog
from objstore.common.config import build, format_value, options_of
from objstore.common.exceptions import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(objstore.__file__)))
ETC = os.path.join(ROOT, "etc")

# Settings classes not named ``*Config``: qualname -> (sample, section).
EXTRA = {
    "objstore.common.constraints.Constraints": ("objstore.conf-sample", "constraints"),
}

# Options that are not written as themselves: (class qualname, option) -> why.
NOT_WRITTEN = {
    ("objstore.proxy.middleware.tempauth.Config", "users"): "given as user_<account>_<user> = <key> lines",
}

# Keys a sample section may hold besides its class's options: (class qualname
# or "*", key prefix).
NOT_OPTIONS = {
    ("*", "use"),  # which middleware or app a section is
    ("objstore.proxy.middleware.tempauth.Config", "user_"),
}


def _module_names():
    base = os.path.dirname(os.path.abspath(objstore.__file__))
    for dirpath, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)[:-3].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                yield ".".join(rel)


def _import_all():
    """Every objstore module that imports; a module that needs a third-party
    package this machine lacks (libvirt) is left out, any other failure fails."""
    modules, failures = [], []
    for name in _module_names():
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            if not (err.name or "").startswith("objstore"):
                continue
            failures.append("%s: %s" % (name, err))
        except Exception as err:  # noqa: a module that cannot even import is a failure to report
            failures.append("%s: %r" % (name, err))
    return modules, failures


MODULES, IMPORT_FAILURES = _import_all()


def _qualname(cls):
    return "%s.%s" % (cls.__module__, cls.__name__)


def _kebab(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _sections_of_samples():
    """``{section: sample path}`` over every etc/*.conf-sample (first wins)."""
    found = {}
    for name in sorted(os.listdir(ETC)) if os.path.isdir(ETC) else []:
        if name.endswith(".conf-sample"):
            path = os.path.join(ETC, name)
            for section in _parse(path):
                found.setdefault(section, path)
    return found


def _parse(path):
    """``{section: {key: value}}`` counting commented ``# key = value`` lines as set."""
    sections, current = {}, None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            # a commented-out header ("# [flavor:m1.tiny]") starts an example section
            header = re.match(r"^\s*(?:#\s*)?\[([^\]]+)\]\s*$", line)
            if header:
                current = sections.setdefault(header.group(1), {})
                continue
            option = re.match(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*?)\s*$", line)
            if option and current is not None:
                current.setdefault(option.group(1), option.group(2))
    return sections


def discover():
    """``[(cls, sample path or None, section, inherit_section or None)]``."""
    from objstore.daemon.runner import Daemon

    pairs, claimed = [], set()
    samples = _sections_of_samples()
    classes = []
    for module in MODULES:
        for key, value in vars(module).items():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if issubclass(value, Daemon) and value is not Daemon and value.name != Daemon.name:
                own = os.path.join(ETC, value.name + ".conf-sample")
                server_sample = os.path.join(ETC, (value.server_section or value.name) + ".conf-sample")
                found = [path for path in (server_sample, own)
                         if os.path.exists(path) and value.name in _parse(path)]
                for sample in found or [server_sample]:
                    pairs.append((value.config_cls, sample, value.name, value.server_section))
                claimed.add(value.config_cls)
            elif dataclasses.is_dataclass(value) and key.endswith("Config"):
                classes.append(value)
    for program, module in catalog.available():
        if program.server:
            cls = catalog.config_class(program, module)
            if cls is not None and cls not in claimed:
                pairs.append((cls, os.path.join(ETC, program.name + ".conf-sample"), program.name, None))
                claimed.add(cls)
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and _qualname(value) in EXTRA and value not in claimed:
                sample, section = EXTRA[_qualname(value)]
                pairs.append((value, os.path.join(ETC, sample), section, None))
                claimed.add(value)
    for cls in classes:
        if cls in claimed:
            continue
        parts = cls.__module__.split(".")
        if parts[:3] == ["objstore", "proxy", "middleware"] and cls.__name__ == "Config":
            pairs.append((cls, os.path.join(ETC, "proxy-server.conf-sample"), "filter:" + parts[-1], None))
        elif any(other is not cls and issubclass(other, cls) for other in classes + [p[0] for p in pairs]):
            continue  # a base: its options are checked through each subclass
        else:
            section = _kebab(cls.__name__[: -len("Config")])
            pairs.append((cls, samples.get(section), section, None))
        claimed.add(cls)
    return pairs


PAIRS = discover()


def render(cls, section):
    """The sample lines for ``cls``: each option's doc, then ``# key = default``."""
    lines = ["[%s]" % section]
    for name, default, doc in options_of(cls):
        lines += ["# %s" % doc, "# %s = %s" % (name, format_value(default))]
    return "\n".join(lines)


def _same(cls, key, written, default):
    if written == format_value(default):
        return True
    try:
        return getattr(build(cls, {key: written}), key) == default
    except (ConfigError, TypeError, ValueError):
        return False


def test_every_module_imports():
    assert not IMPORT_FAILURES, "modules that do not import:\n" + "\n".join(IMPORT_FAILURES)


def test_the_known_configs_are_found():
    names = {section for _cls, _sample, section, _inherit in PAIRS}
    assert {"proxy-server", "object-server", "filter:tempauth"} <= names, sorted(names)


@pytest.mark.parametrize("cls,sample,section,inherit", PAIRS,
                         ids=["%s[%s]" % (_qualname(p[0]), p[2]) for p in PAIRS])
def test_sample_lists_every_option_with_its_default(cls, sample, section, inherit):
    assert sample is not None and os.path.exists(sample), (
        "no etc/*.conf-sample has a [%s] section for %s; add one:\n\n%s" % (section, _qualname(cls), render(cls, section)))
    sections = _parse(sample)
    assert section in sections, "%s has no [%s] for %s; add:\n\n%s" % (sample, section, _qualname(cls), render(cls, section))
    own = sections[section]
    inherited = sections.get(inherit, {}) if inherit else {}
    problems = []
    for name, default, _doc in options_of(cls):
        if (_qualname(cls), name) in NOT_WRITTEN:
            continue
        if name in own:
            if not _same(cls, name, own[name], default):
                problems.append("%s = %s in the sample, but the default is %s" % (name, own[name], format_value(default)))
        elif name not in inherited:
            problems.append("missing: %s (default %s)" % (name, format_value(default)))
    assert not problems, "%s [%s] vs %s:\n  %s\n\nthe whole section should read:\n\n%s" % (
        sample, section, _qualname(cls), "\n  ".join(problems), render(cls, section))


def test_each_sample_loads_in_the_programs_that_read_it():
    checked = 0
    for program, module in catalog.available():
        sample = os.path.join(ETC, program.conf + ".conf-sample")
        if os.path.exists(sample):
            catalog.load_config(program, module, sample)  # raises ConfigError on an unknown or bad option
            checked += 1
    assert checked, "no program found its sample"


def test_the_tempauth_sample_has_users():
    sample = os.path.join(ETC, "proxy-server.conf-sample")
    assert any(key.startswith("user_") for key in _parse(sample).get("filter:tempauth", {}))


def test_objstore_conf_sample_has_empty_hash_secrets():
    """The secrets must be chosen per cluster: the sample shows the keys, never values."""
    section = _parse(os.path.join(ETC, "objstore.conf-sample")).get("objstore-hash", {})
    assert section.get("hash_path_prefix") == "" and section.get("hash_path_suffix") == ""


@pytest.mark.parametrize("cls,sample,section,inherit", PAIRS,
                         ids=["%s[%s]" % (_qualname(p[0]), p[2]) for p in PAIRS])
def test_sample_lists_no_option_the_code_does_not_have(cls, sample, section, inherit):
    """A renamed or removed option must leave the sample too (commented lines count)."""
    if sample is None or not os.path.exists(sample):
        return  # reported by test_sample_lists_every_option_with_its_default
    names = {name for name, _default, _doc in options_of(cls)}
    stale = [
        key for key in _parse(sample).get(section, {})
        if key not in names
        and not any(owner in ("*", _qualname(cls)) and key.startswith(prefix) for owner, prefix in NOT_OPTIONS)
    ]
    assert not stale, "%s [%s] lists %s, which %s does not have" % (sample, section, stale, _qualname(cls))
