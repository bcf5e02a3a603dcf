"""The table of every program objstore runs: its servers and daemons, the
module behind each, the config file it reads and its section; and which of
them this build actually has.

Both process managers (the all-in-one ``aio.py`` and ``objstore-init`` in
``manager.py``) and the conf-sample test read this table. Starting, stopping
and pid files are not here (see ``procs.py``).

A program is *available* when one of its candidate modules imports and has a
``main``: the table lists programs that other parts of the tree add over time,
and each one starts working as soon as its module lands.
"""

import dataclasses
import importlib
import importlib.util

from objstore.common.config import load_section
from objstore.common.exceptions import ConfigError

SERVER_KINDS = ("proxy", "account", "container", "object")


@dataclasses.dataclass(frozen=True)
class Program:
    """One server or daemon.

    :param name: what operators call it (``object-replicator``); also its
        config section.
    :param kind: ``proxy``, ``account``, ``container`` or ``object``.
    :param modules: candidate modules, first importable one with ``main`` wins.
    :param conf: the stem of the config file it reads (``object-server``):
        daemons read the file of their kind's server; None: the node's
        config directory (``node-daemons``).
    :param server: True for the HTTP servers (they listen on a port).
    """

    name: str
    kind: str
    modules: tuple
    conf: str
    server: bool = False

    @property
    def role(self):
        return self.name.split("-", 1)[1]


def _server(kind):
    return Program(kind + "-server", kind, ("objstore.%s.server" % _pkg(kind),), kind + "-server", True)


def _daemon(kind, role, *extra_modules):
    modules = ("objstore.%s.%s" % (_pkg(kind), role),) + extra_modules
    return Program("%s-%s" % (kind, role), kind, modules, kind + "-server")


def _pkg(kind):
    return "obj" if kind == "object" else kind


# Order matters: servers start in this order (storage before the proxy) and
# stop in reverse; daemons run in this order under ``once``.
PROGRAMS = (
    _server("account"),
    _server("container"),
    _server("object"),
    _server("proxy"),
    _daemon("account", "replicator"),
    _daemon("container", "replicator"),
    _daemon("object", "replicator"),
    _daemon("container", "updater"),
    _daemon("object", "updater"),
    _daemon("account", "auditor"),
    _daemon("container", "auditor"),
    _daemon("object", "auditor"),
    _daemon("object", "expirer", "objstore.daemon.expirer", "objstore.expirer"),
    _daemon("account", "reaper", "objstore.daemon.reaper", "objstore.reaper"),
)

# The compute companion's HTTP API: not a storage program (the managers do
# not start it by default); the all-in-one runs it with ``--with-compute``.
# It reads ``etc/compute.conf`` ([compute-api], [compute], [flavor:*]).
COMPUTE_API = Program("compute-api", "compute", ("objstore.compute.server",), "compute", True)

# Every daemon of one node in one process (``nodedaemons.py``): what the
# all-in-one runs instead of one process per daemon. It reads the node's
# config directory (``conf`` None), not one file.
NODE_DAEMONS = Program("node-daemons", "node", ("objstore.cli.nodedaemons",), None)

BY_NAME = {program.name: program for program in PROGRAMS + (COMPUTE_API, NODE_DAEMONS)}


def servers(programs=PROGRAMS):
    return [program for program in programs if program.server]


def daemons(programs=PROGRAMS):
    return [program for program in programs if not program.server]


def find_module(program):
    """The imported module behind ``program``, or None when this build lacks it.

    A module counts only when it has a ``main`` (a docstring-only placeholder
    does not).
    """
    for name in program.modules:
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        module = importlib.import_module(name)
        if callable(getattr(module, "main", None)):
            return module
    return None


def available(programs=PROGRAMS):
    """``[(program, module)]`` for the programs this build has, in table order."""
    found = []
    for program in programs:
        module = find_module(program)
        if module is not None:
            found.append((program, module))
    return found


def _camel(name):
    return "".join(part.capitalize() for part in name.split("-"))


def daemon_class(program, module):
    """The Daemon subclass in ``module`` that serves ``program``, or None."""
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "name", None) == program.name and hasattr(value, "run_pass"):
            return value
    return None


def config_class(program, module):
    """The frozen config dataclass ``program`` reads its section into, or None.

    Daemons name theirs as ``config_cls`` of their Daemon subclass; servers by
    convention as ``<Kind>ServerConfig`` in their module.
    """
    daemon = daemon_class(program, module)
    if daemon is not None:
        return daemon.config_cls
    cls = getattr(module, _camel(program.name) + "Config", None)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return cls
    candidates = [
        value
        for key, value in vars(module).items()
        if key.endswith("Config")
        and isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == module.__name__
    ]
    return candidates[0] if len(candidates) == 1 else None


def load_config(program, module, conf_path):
    """Load ``program``'s settings from ``conf_path`` exactly as it will.

    :returns: the config dataclass instance (None when no class is known).
    :raises ConfigError: unreadable file, unknown option, bad value.
    """
    daemon = daemon_class(program, module)
    if daemon is not None:
        from objstore.daemon.runner import load_daemon_config  # cli may import anything

        return load_daemon_config(conf_path, daemon.name, daemon.config_cls, daemon.server_section)
    cls = config_class(program, module)
    if cls is None:
        return None
    return load_section(conf_path, program.name, cls, allow_unknown=("use",))


def resolve(words, programs=PROGRAMS, named_only=()):
    """The programs named by ``words``: names, kinds, roles or groups.

    ``all`` is everything, ``main`` the servers, ``rest`` the daemons;
    ``object`` or ``proxy`` mean that kind's server; ``replicator`` means
    every replicator; ``object-replicator`` means itself.

    :param named_only: programs chosen by their exact name only, never by a
        group, kind or role (``objstore-init`` passes ``NODE_DAEMONS``: it
        runs the daemons ``rest`` already names); they come after
        ``programs`` in the result.
    :raises ConfigError: a word that names nothing (the message lists names).
    """
    chosen = []
    for word in words:
        word = word.strip().lower()
        alone = [p for p in named_only if p.name == word]
        if alone:
            match = alone
        elif word == "all":
            match = list(programs)
        elif word == "main":
            match = servers(programs)
        elif word == "rest":
            match = daemons(programs)
        elif word in SERVER_KINDS:
            match = [p for p in programs if p.name == word + "-server"]
        else:
            match = [p for p in programs if p.name == word or (not p.server and p.role == word)]
            if not match and word.endswith("s"):
                match = [p for p in programs if not p.server and p.role == word[:-1]]
        if not match:
            raise ConfigError(
                "unknown server or daemon %r (known: all, main, rest, %s)"
                % (word, ", ".join(p.name for p in tuple(programs) + tuple(named_only)))
            )
        for program in match:
            if program not in chosen:
                chosen.append(program)
    return [p for p in tuple(programs) + tuple(named_only) if p in chosen]
