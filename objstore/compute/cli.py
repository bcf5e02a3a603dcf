"""``objstore-compute``: the command line of the compute companion.

Argument parsing and output formatting only: every command is one call on
:class:`objstore.compute.manager.Compute`. Errors (unknown flavor, image or
instance; a file that is not a qcow2/raw image; an unreachable libvirt URI or
object store; a disallowed state transition) print one line on stderr and
exit non-zero; nothing prints a traceback.

Global options come before the command:
``--json``, ``--auth/--user/--key`` (default ``$ST_AUTH``/``$ST_USER``/``$ST_KEY``
as the ``swift`` CLI), ``--libvirt-uri``, ``--config FILE``, ``--state-dir``
(default ``$OBJSTORE_COMPUTE_STATE``, then the user's data dir).

``cache-prune [--dry-run] [--max-age SECONDS]`` is the operator's: it needs
no object store credentials and looks at every owner's instances.
"""

import argparse
import json
import os
import sys

from objstore.client.connection import Connection
from objstore.common.exceptions import HypervisorUnavailable, ObjstoreError
from objstore.compute import config as compute_config
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host, account_of

PROG = "objstore-compute"
EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and does not exit)."""

    def error(self, message):
        raise UsageError(message)


def _key_values(pairs):
    items = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError("metadata must be key=value, not %r" % pair)
        items[key] = value
    return items


def build_parser():
    parser = _Parser(prog=PROG, description="Run virtual machines from images kept in objstore.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--auth", default=os.environ.get("ST_AUTH"), help="auth URL (default $ST_AUTH)")
    parser.add_argument("--user", default=os.environ.get("ST_USER"), help="account:user (default $ST_USER)")
    parser.add_argument("--key", default=os.environ.get("ST_KEY"), help="key (default $ST_KEY)")
    parser.add_argument("--libvirt-uri", help="libvirt URI (overrides the config's connection_uri)")
    parser.add_argument("--config", help="INI file with [compute] and [flavor:NAME] sections")
    parser.add_argument("--state-dir", default=None, help="records, cache, disks (default $OBJSTORE_COMPUTE_STATE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sub.add_parser("flavor-list", help="list flavors")
    up = sub.add_parser("image-upload", help="upload a disk image, or a kernel+initramfs pair")
    up.add_argument("file", nargs="?", help="qcow2 or raw disk image")
    up.add_argument("--name", required=True)
    up.add_argument("--disk-format", choices=("qcow2", "raw"))
    up.add_argument("--kernel", help="Linux kernel for direct boot")
    up.add_argument("--ramdisk", help="initramfs for direct boot")
    up.add_argument("--cmdline", default="", help="kernel command line")
    sub.add_parser("image-list", help="list images")
    for name in ("image-show", "image-delete"):
        sub.add_parser(name).add_argument("image", help="image id or name")

    boot = sub.add_parser("boot", help="create and start an instance")
    boot.add_argument("name")
    boot.add_argument("--flavor", required=True)
    boot.add_argument("--image", required=True, help="image id or name")
    boot.add_argument("--meta", action="append", metavar="KEY=VALUE", help="metadata (repeatable)")
    sub.add_parser("list", help="list instances")
    for name in ("show", "start", "pause", "unpause", "suspend", "resume", "delete"):
        sub.add_parser(name).add_argument("instance", help="instance id or name")
    stop = sub.add_parser("stop", help="ACPI shutdown, then a hard stop after the timeout")
    stop.add_argument("instance")
    stop.add_argument("--timeout", type=float, help="seconds to wait for the guest (default: config)")
    reboot = sub.add_parser("reboot")
    reboot.add_argument("instance")
    reboot.add_argument("--hard", action="store_true")
    log = sub.add_parser("console-log", help="the tail of the serial console")
    log.add_argument("instance")
    log.add_argument("--length", type=int, help="lines (default: all, capped by console_log_max)")
    snap = sub.add_parser("snapshot", help="copy the instance's disk into a new image")
    snap.add_argument("instance")
    snap.add_argument("--name", required=True)
    mset = sub.add_parser("meta-set")
    mset.add_argument("instance")
    mset.add_argument("items", nargs="+", metavar="KEY=VALUE")
    mdel = sub.add_parser("meta-del")
    mdel.add_argument("instance")
    mdel.add_argument("keys", nargs="+", metavar="KEY")
    prune = sub.add_parser(
        "cache-prune", help="remove cached base images no instance uses, unused for image_cache_max_age"
    )
    prune.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    prune.add_argument("--max-age", type=float, metavar="SECONDS", help="override image_cache_max_age (0: nothing)")
    return parser


def make_compute(args, hypervisor=None):
    """The :class:`Compute` the arguments describe.

    :param hypervisor: use this one instead of opening ``--libvirt-uri``
        (tests keep one test-driver connection across commands).
    """
    config, flavors, _ = compute_config.load(args.config, {"connection_uri": args.libvirt_uri})
    state_dir = args.state_dir or config.state_dir or compute_config.default_state_dir()
    if hypervisor is None:
        try:
            from objstore.compute.driver import Hypervisor  # libvirt only when needed
        except ImportError as err:
            raise HypervisorUnavailable(
                "the libvirt binding is missing (%s): apt-get install libvirt-dev pkg-config, "
                "then pip install 'libvirt-python>=9.0'" % err
            ) from None
        hypervisor = Hypervisor(config.connection_uri)
    host = Host(config, flavors, hypervisor, state_dir)
    images = owner = None
    if args.command not in ("flavor-list", "cache-prune") and (args.auth or args.user or args.key):
        if not (args.auth and args.user and args.key):
            raise UsageError("--auth, --user and --key go together")
        conn = Connection(args.auth, args.user, args.key, timeout=config.objstore_timeout)
        storage_url, _ = conn.authenticate()
        images = ImageStore(conn, config.image_container)
        owner = account_of(storage_url)
    return Compute(host, images, owner)


def run(compute, args):
    """Run the command. :returns: what to print (a dict, a list or text)."""
    cmd = args.command
    if cmd == "flavor-list":
        return compute.flavor_list()
    if cmd == "image-upload":
        return compute.image_upload(args.name, args.file, args.disk_format, args.kernel, args.ramdisk, args.cmdline)
    if cmd == "image-list":
        return compute.image_list()
    if cmd == "image-show":
        return compute.image_show(args.image)
    if cmd == "image-delete":
        return {"deleted": compute.image_delete(args.image)}
    if cmd == "boot":
        return compute.boot(args.name, args.flavor, args.image, _key_values(args.meta))
    if cmd == "list":
        return compute.list()
    if cmd == "stop":
        return compute.stop(args.instance, args.timeout)
    if cmd == "reboot":
        return compute.reboot(args.instance, hard=args.hard)
    if cmd == "console-log":
        return compute.console_log(args.instance, args.length)
    if cmd == "snapshot":
        return compute.snapshot(args.instance, args.name)
    if cmd == "meta-set":
        return compute.meta_set(args.instance, _key_values(args.items))
    if cmd == "meta-del":
        return compute.meta_delete(args.instance, args.keys)
    if cmd == "cache-prune":
        return compute.cache_prune(dry_run=args.dry_run, max_age=args.max_age)
    method = getattr(compute, cmd)  # show start pause unpause suspend resume delete
    return method(args.instance)


_COLUMNS = {
    "list": ("id", "name", "state", "power_state", "flavor"),
    "image-list": ("id", "name", "disk_format", "size"),
    "flavor-list": ("name", "vcpus", "ram_mib", "disk_gib"),
}


def _cell(value):
    if isinstance(value, dict):
        return value.get("name") or json.dumps(value, sort_keys=True)
    return str(value)


def render_prune(result):
    """``cache-prune``'s text: one line per file removed (or that would be),
    lock files left out, then the bytes freed."""
    if result["max_age"] <= 0:
        return "image cache pruning is disabled (image_cache_max_age = 0): nothing removed"
    verb = "would remove" if result["dry_run"] else "removed"
    lines = [
        "%s %s %s (%d bytes)" % (verb, entry["kind"], entry["file"], entry["bytes"])
        for entry in result["removed"]
        if entry["kind"] != "lock"
    ]
    lines.append(
        "%s %d bytes (%d files; %d kept)"
        % (
            "would free" if result["dry_run"] else "freed",
            result["bytes_freed"],
            len([e for e in result["removed"] if e["kind"] != "lock"]),
            len(result["kept"]),
        )
    )
    return "\n".join(lines)


def render(command, result, as_json):
    """The text to print for ``result``."""
    if as_json:
        if isinstance(result, str):
            result = {"output": result}
        return json.dumps(result, indent=2, sort_keys=True)
    if command == "cache-prune":
        return render_prune(result)
    if isinstance(result, str):
        return result.rstrip("\n")
    if isinstance(result, list):
        cols = _COLUMNS.get(command) or (sorted(result[0]) if result else ())
        rows = [[_cell(item.get(col, "")) for col in cols] for item in result]
        widths = [max([len(col)] + [len(row[i]) for row in rows]) for i, col in enumerate(cols)]
        lines = ["  ".join(col.ljust(widths[i]) for i, col in enumerate(cols)).rstrip()]
        lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        return "\n".join(lines)
    width = max((len(key) for key in result), default=0)
    return "\n".join(
        "%s  %s" % (key.ljust(width), json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value)
        for key, value in result.items()
    )


def main(argv=None, hypervisor=None, stdout=None, stderr=None):
    """Entry point. :returns: the exit code (0 ok, 1 error, 2 usage)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        compute = make_compute(args, hypervisor)
        try:
            result = run(compute, args)
        finally:
            if hypervisor is None:
                compute.host.close()
            else:
                compute.host.records.close()
    except UsageError as err:
        print("%s: error: %s" % (PROG, err), file=stderr)
        return EXIT_USAGE
    except ObjstoreError as err:
        print("%s: error: %s" % (PROG, str(err).splitlines()[0] if str(err) else type(err).__name__), file=stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=stderr)
        return 130
    print(render(args.command, result, args.json), file=stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
