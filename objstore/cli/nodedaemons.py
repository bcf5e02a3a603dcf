"""``objstore-node-daemons``: every consistency daemon of a node in one process.

``objstore-node-daemons CONF_OR_DIR... [--only NAMES] [--once]`` reads the
node's server config files (a directory stands for every ``*.conf`` in it)
and runs each daemon that has its section in one of them
(``[object-replicator]`` in object-server.conf, ...), all in this process,
each in its own greenthread (:func:`objstore.daemon.runner.run_together`).
A daemon reads its section exactly as its own ``objstore-<daemon>`` program
would, so one file configures both ways of running it.

Why: a daemon mostly sleeps between passes, yet as its own process it costs
an interpreter (~40 MiB resident). The all-in-one runs one of these per node
(10 daemons each) instead of 40 daemon processes. Running each daemon as its
own process (``objstore-init``, the per-daemon programs) still works, and is
what an operator wants when one daemon needs its own CPU.

Which daemons exist is the catalog's (``catalog.py``); how one runs is the
runner's (``daemon/runner.py``). Errors a user can cause (a missing file, no
daemon section anywhere, a bad option, the same daemon configured in two
files) are one line on stderr and exit code 2.
"""

import argparse
import os
import sys

from objstore.cli import catalog
from objstore.common import green
from objstore.common.config import read_ini
from objstore.common.exceptions import ConfigError
from objstore.common.log import get_logger
from objstore.daemon import runner

PROG = "objstore-node-daemons"


def config_files(paths):
    """The config files named by ``paths``: files as given, a directory as
    its ``*.conf`` files in name order.

    :raises ConfigError: a path that is neither.
    """
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(os.path.join(path, name) for name in sorted(os.listdir(path))
                         if name.endswith(".conf") and os.path.isfile(os.path.join(path, name)))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise ConfigError("%s: no such file or directory" % path)
    return files


def find_daemons(files, available, only=None):
    """``[(program, daemon class, conf file)]``: each available daemon whose
    section is in one of ``files``.

    :param available: ``[(program, module)]`` as :func:`catalog.available` gives.
    :param only: program names to keep (None: all found).
    :raises ConfigError: a daemon's section in two files; nothing to run.
    """
    sections = {path: set(read_ini(path)) for path in files}
    found = []
    for program, module in available:
        if program.server or (only is not None and program.name not in only):
            continue
        cls = catalog.daemon_class(program, module)
        homes = [path for path in files if program.name in sections[path]]
        if cls is None or not homes:
            continue
        if len(homes) > 1:
            raise ConfigError("[%s] is in both %s and %s; keep it in one file" % (program.name, homes[0], homes[1]))
        found.append((program, cls, homes[0]))
    if not found:
        wanted = ", ".join(sorted(only)) if only else "any daemon"
        raise ConfigError("no section for %s in %s" % (wanted, ", ".join(files) or "no config file"))
    return found


def build_daemons(found, verbose=False):
    """The daemons of ``found``, each with its config and its own logger.

    :raises ConfigError: a bad option (file, section, key and value named).
    """
    daemons = []
    for program, cls, conf_file in found:
        config = runner.load_daemon_config(conf_file, cls.name, cls.config_cls, cls.server_section)
        level = "DEBUG" if verbose else config.log_level
        logger = get_logger(config.log_name or cls.name, None if verbose else (config.log_file or None), level)
        daemons.append(cls(config, logger))
    return daemons


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="run every consistency daemon of a node in one process")
    parser.add_argument("confs", nargs="+", metavar="CONF_OR_DIR",
                        help="the node's server config files, or a directory of them")
    parser.add_argument("--only", help="only these daemons (comma-separated names, e.g. object-replicator)")
    parser.add_argument("--once", action="store_true", help="one pass of each (concurrently), then exit")
    runner.add_pass_options(parser)
    args = parser.parse_args(argv)
    try:
        only = runner.parse_name_list(args.only)
        if only:
            known = {program.name for program in catalog.daemons()}
            unknown = sorted(set(only) - known)
            if unknown:
                raise ConfigError("unknown daemon %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(known))))
        devices = runner.parse_name_list(args.devices)
        partitions = runner.parse_int_list(args.partitions)
        found = find_daemons(config_files(args.confs), catalog.available(catalog.daemons()), set(only) if only else None)
        daemons = build_daemons(found, args.verbose)
    except (ConfigError, ValueError) as err:
        print("%s: %s" % (PROG, err), file=sys.stderr)
        return 2
    green.monkey_patch()
    runner.stop_on_signals(daemons)
    print("%s: running %s" % (PROG, ", ".join(daemon.name for daemon in daemons)), file=sys.stderr, flush=True)
    return runner.run_together(daemons, once=args.once, devices=devices, partitions=partitions)


if __name__ == "__main__":
    sys.exit(main())
