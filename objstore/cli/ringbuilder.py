"""``objstore-ring-builder``: the operators' ring CLI, in swift-ring-builder's habits.

What lives here: argument parsing, the commands, their printed output and
exit codes (0 success, 1 warning, 2 error), and the visualize chart (terminal
and SVG). What does not: any ring logic (objstore.ring.builder and friends).

Every error is one line on stderr with exit code 2, and the builder file is
written only after a command fully succeeded, so a failed command leaves it
byte-for-byte as it was.
"""

import argparse
import datetime
import hashlib
import html
import os
import sys

from objstore.common.exceptions import ObjstoreError, RingBuilderError
from objstore.common.fs import atomic_write
from objstore.ring import devspec
from objstore.ring.builder import RingBuilder, ring_path_for

EXIT_SUCCESS, EXIT_WARNING, EXIT_ERROR = 0, 1, 2
BAR_WIDTH = 50

USAGE = """objstore-ring-builder <builder_file> [<command> [args]]

Commands:
  (none)                                  show devices, weights, partitions, balance
  create <part_power> <replicas> <min_part_hours>
  add <r1z1-127.0.0.1:6200[R<ip>:<port>]/sdb1[_meta]> <weight> [<dev> <weight>...]
  add --region R --zone Z --ip IP --port P [--replication-ip IP]
      [--replication-port P] --device NAME --weight W [--meta M]
  set_weight <search> <weight> [<search> <weight>...]
  set_info <search> <[ip][:port][R[ip][:port]][/device][_meta]> [...]
  remove <search> [<search>...]
  search <search>
  list_parts <search> [<search>...]
  rebalance [--seed N]
  validate
  dispersion [--verbose]
  write_ring
  pretend_min_part_hours_passed
  set_min_part_hours <hours>
  set_overload <value>[%]
  set_replicas <replicas>
  visualize [--svg out.svg]

Search values: d<id>, r<region>, z<zone>, <ip>, :<port>, /<device>, _<meta>,
or combined like r1z1-127.0.0.1:6200/sdb1.
Exit codes: 0 success, 1 warning, 2 error."""


class CommandError(Exception):
    """A one-line error for the operator (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CommandError(message)


def _parser(prog):
    return _Parser(prog=prog, add_help=False)


def _number(text, kind, cast=float):
    try:
        return cast(text)
    except (TypeError, ValueError):
        raise CommandError("invalid %s %r" % (kind, text)) from None


def _search(builder, value):
    crit = devspec.parse_search_value(value)
    devs = builder.search_devs(crit)
    if not devs:
        raise CommandError("no devices match %r" % value)
    return devs


def _fmt_hostport(ip, port):
    return "%s:%d" % ("[%s]" % ip if ":" in ip else ip, port)


def _dev_table(builder, devs):
    balances = builder.dev_balances()
    header = "%5s %6s %4s %22s %22s %8s %8s %10s %8s %5s %s" % (
        "id", "region", "zone", "ip address:port", "replication ip:port", "name",
        "weight", "partitions", "balance", "flags", "meta")
    lines = [header]
    for dev in devs:
        parts, bal = balances.get(dev["id"], (0, 0.0))
        flags = "DEL" if dev["id"] in builder._remove_devs else ""
        lines.append("%5d %6d %4d %22s %22s %8s %8.2f %10d %8.2f %5s %s" % (
            dev["id"], dev["region"], dev["zone"], _fmt_hostport(dev["ip"], dev["port"]),
            _fmt_hostport(dev["replication_ip"], dev["replication_port"]), dev["device"],
            dev["weight"], parts, bal, flags, dev["meta"]))
    return "\n".join(lines)


def _ring_status(builder, path):
    ring_path = ring_path_for(path)
    name = os.path.basename(ring_path)
    if not os.path.exists(ring_path):
        return "Ring file %s not found, probably it hasn't been written yet" % name
    try:
        wanted = builder.ring_bytes()
    except RingBuilderError:
        return "Ring file %s is obsolete" % name
    with open(ring_path, "rb") as handle:
        same = hashlib.md5(handle.read()).digest() == hashlib.md5(wanted).digest()
    return "Ring file %s is %s" % (name, "up-to-date" if same else "obsolete")


# -- commands ----------------------------------------------------------------
def cmd_default(path, builder, args, out):
    if args:
        raise CommandError("unknown command %r" % args[0])
    live = builder.live_devs()
    regions = len({d["region"] for d in live})
    zones = len({(d["region"], d["zone"]) for d in live})
    print("%s, build version %d" % (path, builder.version), file=out)
    print("%d partitions, %.6f replicas, %d regions, %d zones, %d devices, %.02f balance, "
          "%.02f dispersion" % (builder.partition_count, builder.replicas, regions, zones,
                                len(live), builder.get_balance(), builder.dispersion), file=out)
    left = builder.min_part_seconds_left()
    print("The minimum number of hours before a partition can be reassigned is %d (%s remaining)"
          % (builder.min_part_hours, datetime.timedelta(seconds=left)), file=out)
    print("The overload factor is %.2f%% (%.6f)" % (builder.overload * 100, builder.overload),
          file=out)
    print(_ring_status(builder, path), file=out)
    print("Devices:", file=out)
    print(_dev_table(builder, live), file=out)
    return EXIT_SUCCESS, False


def cmd_add(path, builder, args, out):
    if args and args[0].startswith("--"):
        parser = _parser("add")
        for flag in ("--region", "--zone", "--port", "--replication-port"):
            parser.add_argument(flag, type=int, required=flag in ("--zone", "--port"),
                                default=None)
        parser.add_argument("--ip", required=True)
        parser.add_argument("--replication-ip")
        parser.add_argument("--device", required=True)
        parser.add_argument("--weight", required=True)
        parser.add_argument("--meta", default="")
        opts = parser.parse_args(args)
        devs = [({
            "region": 1 if opts.region is None else opts.region, "zone": opts.zone,
            "ip": opts.ip.strip("[]"), "port": opts.port,
            "replication_ip": (opts.replication_ip or "").strip("[]") or None,
            "replication_port": opts.replication_port, "device": opts.device,
            "meta": opts.meta}, opts.weight)]
    else:
        if not args or len(args) % 2:
            raise CommandError("add needs <device> <weight> pairs")
        devs = [(devspec.parse_add_value(args[i]), args[i + 1]) for i in range(0, len(args), 2)]
    for dev, weight in devs:
        dev["weight"] = _number(weight, "weight")
        dev_id = builder.add_dev(dev)
        print("Device %s with %s weight got id %d" % (
            devspec.format_dev(builder.devs[dev_id]).split(" ", 1)[1], weight, dev_id), file=out)
    return EXIT_SUCCESS, True


def cmd_set_weight(path, builder, args, out):
    if not args or len(args) % 2:
        raise CommandError("set_weight needs <search> <weight> pairs")
    for i in range(0, len(args), 2):
        weight = _number(args[i + 1], "weight")
        for dev in _search(builder, args[i]):
            builder.set_dev_weight(dev["id"], weight)
            print("%s weight set to %s" % (devspec.format_dev(dev), weight), file=out)
    return EXIT_SUCCESS, True


def cmd_set_info(path, builder, args, out):
    if not args or len(args) % 2:
        raise CommandError("set_info needs <search> <change> pairs")
    for i in range(0, len(args), 2):
        change = devspec.parse_change_value(args[i + 1])
        for dev in _search(builder, args[i]):
            before = devspec.format_dev(dev)
            builder.set_dev_info(dev["id"], **change)
            print("Device %s is now %s" % (before, devspec.format_dev(dev)), file=out)
    return EXIT_SUCCESS, True


def cmd_remove(path, builder, args, out):
    if not args:
        raise CommandError("remove needs a search value")
    for value in args:
        for dev in _search(builder, value):
            text = devspec.format_dev(dev)
            builder.remove_dev(dev["id"])
            print("%s marked for removal and will be removed next rebalance." % text, file=out)
    return EXIT_SUCCESS, True


def cmd_search(path, builder, args, out):
    if len(args) != 1:
        raise CommandError("search needs one search value")
    print("Devices:", file=out)
    print(_dev_table(builder, _search(builder, args[0])), file=out)
    return EXIT_SUCCESS, False


def cmd_list_parts(path, builder, args, out):
    if not args:
        raise CommandError("list_parts needs search values")
    if not builder.has_assignments:
        raise CommandError("the builder has not been rebalanced yet")
    ids = set()
    for value in args:
        ids.update(dev["id"] for dev in _search(builder, value))
    print("Partition   Matches", file=out)
    for part, count in builder.list_parts(ids):
        print("%9d   %7d" % (part, count), file=out)
    return EXIT_SUCCESS, False


def cmd_rebalance(path, builder, args, out):
    parser = _parser("rebalance")
    parser.add_argument("--seed", type=int, default=None)
    opts = parser.parse_args(args)
    before = builder.get_balance() if builder.has_assignments else None
    result = builder.rebalance(seed=opts.seed)
    if not (result.parts_moved or result.removed_devs or result.rows_resized) \
            and before is not None:
        print("No partitions could be reassigned.", file=out)
        left = builder.min_part_seconds_left()
        if left:
            print("Either none need to be or none can be due to min_part_hours [%d]; "
                  "%s remaining." % (builder.min_part_hours, datetime.timedelta(seconds=left)),
                  file=out)
        return EXIT_WARNING, False
    print("Reassigned %d (%.2f%%) partitions. Balance is now %.2f.  Dispersion is now %.2f" % (
        result.parts_moved, 100.0 * result.parts_moved / builder.partition_count,
        result.balance, result.dispersion), file=out)
    code = EXIT_SUCCESS
    if result.balance > 1.0:
        print("NOTE: Balance of %.2f indicates you should push this ring, wait at least %d "
              "hours, and rebalance/repush." % (result.balance, builder.min_part_hours), file=out)
        code = EXIT_WARNING
    if result.dispersion > 0:
        print("NOTE: Dispersion of %.06f indicates some parts are not optimally dispersed. "
              "You may want to adjust some device weights, increase the overload or review "
              "the dispersion report." % result.dispersion, file=out)
        code = EXIT_WARNING
    return code, "ring"


def cmd_validate(path, builder, args, out):
    if args:
        raise CommandError("validate takes no arguments")
    builder.validate()
    print("The builder is valid.", file=out)
    return EXIT_SUCCESS, False


def cmd_dispersion(path, builder, args, out):
    parser = _parser("dispersion")
    parser.add_argument("--verbose", "-v", action="store_true")
    opts = parser.parse_args(args)
    if not builder.has_assignments:
        raise CommandError("the builder has not been rebalanced yet")
    report = builder.dispersion_report()
    print("Dispersion is %.06f" % report["dispersion"], file=out)
    width = len(report["tiers"][0]["replicas"]) if report["tiers"] else 0
    print("%-40s %8s %8s %7s %s" % ("Tier", "Parts", "%", "Max", " ".join(
        "%8s" % ("%d" % n) for n in range(width))), file=out)
    for tier in report["tiers"]:
        if not opts.verbose and tier["level"] == "device":
            continue
        parts = builder.partition_count - tier["replicas"][0]
        print("%-40s %8d %8.2f %7d %s" % (
            tier["tier"], parts, 100.0 * tier["over"] / builder.partition_count, tier["max"],
            " ".join("%8d" % n for n in tier["replicas"])), file=out)
    return EXIT_SUCCESS, False


def cmd_write_ring(path, builder, args, out):
    if args:
        raise CommandError("write_ring takes no arguments")
    builder.ring_bytes()
    return EXIT_SUCCESS, "ring-only"


def cmd_pretend(path, builder, args, out):
    builder.pretend_min_part_hours_passed()
    return EXIT_SUCCESS, True


def cmd_set_min_part_hours(path, builder, args, out):
    if len(args) != 1:
        raise CommandError("set_min_part_hours needs <hours>")
    builder.set_min_part_hours(_number(args[0], "hours", int))
    print("The minimum number of hours before a partition can be reassigned is now set to %s"
          % args[0], file=out)
    return EXIT_SUCCESS, True


def cmd_set_overload(path, builder, args, out):
    if len(args) != 1:
        raise CommandError("set_overload needs <value>[%]")
    text = args[0]
    value = _number(text[:-1], "overload") / 100.0 if text.endswith("%") else _number(text, "overload")
    builder.set_overload(value)
    print("The overload factor is now %.2f%% (%.6f)" % (value * 100, value), file=out)
    return EXIT_SUCCESS, True


def cmd_set_replicas(path, builder, args, out):
    if len(args) != 1:
        raise CommandError("set_replicas needs <replicas>")
    builder.set_replicas(_number(args[0], "replica count"))
    print("The replica count is now %.6f." % builder.replicas, file=out)
    print("The change will take effect after the next rebalance.", file=out)
    return EXIT_SUCCESS, True


def cmd_visualize(path, builder, args, out):
    parser = _parser("visualize")
    parser.add_argument("--svg", default=None)
    opts = parser.parse_args(args)
    rows = chart_rows(builder)
    if not rows:
        raise CommandError("the builder has no devices")
    print(terminal_chart(rows), file=out)
    if opts.svg:
        atomic_write(opts.svg, svg_chart(rows, os.path.basename(path)).encode("utf-8"))
        print("Wrote %s" % opts.svg, file=out)
    return EXIT_SUCCESS, False


COMMANDS = {
    "add": cmd_add, "set_weight": cmd_set_weight, "set_info": cmd_set_info,
    "remove": cmd_remove, "search": cmd_search, "list_parts": cmd_list_parts,
    "rebalance": cmd_rebalance, "validate": cmd_validate, "dispersion": cmd_dispersion,
    "write_ring": cmd_write_ring, "pretend_min_part_hours_passed": cmd_pretend,
    "set_min_part_hours": cmd_set_min_part_hours, "set_overload": cmd_set_overload,
    "set_replicas": cmd_set_replicas, "visualize": cmd_visualize,
}


# -- visualize -----------------------------------------------------------------
def chart_rows(builder):
    """``[(label, partitions, fair share)]`` per live device."""
    balances = builder.dev_balances()
    fair = builder.fair_shares()
    rows = []
    for dev in builder.live_devs():
        label = "d%d r%dz%d %s/%s" % (dev["id"], dev["region"], dev["zone"],
                                      _fmt_hostport(dev["ip"], dev["port"]), dev["device"])
        rows.append((label, balances[dev["id"]][0], fair[dev["id"]]))
    return rows


def _deviation(parts, fair):
    return 100.0 * (parts - fair) / fair if fair else (0.0 if not parts else 999.99)


def terminal_chart(rows):
    """A text bar chart: '#' for partitions held, '|' at the weight-fair share."""
    top = max(max(p, f) for _, p, f in rows) or 1
    width = max(len(label) for label, _, _ in rows)
    lines = ["partitions per device ('#') against the weight-fair share ('|')"]
    for label, parts, fair in rows:
        filled = int(round(BAR_WIDTH * parts / top))
        mark = min(BAR_WIDTH - 1, int(round(BAR_WIDTH * fair / top)))
        bar = ["#" if i < filled else " " for i in range(BAR_WIDTH)]
        bar[mark] = "|"
        lines.append("%-*s [%s] %8d / %10.1f %+8.2f%%" % (
            width, label, "".join(bar), parts, fair, _deviation(parts, fair)))
    return "\n".join(lines)


def svg_chart(rows, title):
    """A self-contained SVG of the same chart (bars coloured by deviation)."""
    top = max(max(p, f) for _, p, f in rows) or 1
    bar_w, row_h, left, right = 480, 18, 260, 140
    height = 50 + row_h * len(rows)
    width = left + bar_w + right
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'font-family="monospace" font-size="11">' % (width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="20" font-size="14">%s: partitions per device vs weight-fair share</text>'
        % html.escape(title),
    ]
    for i, (label, parts, fair) in enumerate(rows):
        y = 35 + i * row_h
        dev = abs(_deviation(parts, fair))
        colour = "#4caf50" if dev <= 1 else "#ff9800" if dev <= 5 else "#f44336"
        out.append('<text x="10" y="%d">%s</text>' % (y + 12, html.escape(label)))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
            left, y + 2, bar_w * parts / top, row_h - 4, colour))
        fx = left + bar_w * fair / top
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>'
                   % (fx, y, fx, y + row_h))
        out.append('<text x="%d" y="%d">%d / %.1f (%+.2f%%)</text>' % (
            left + bar_w + 8, y + 12, parts, fair, _deviation(parts, fair)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- entry point -----------------------------------------------------------------
def _create(path, args, out):
    if len(args) != 3:
        raise CommandError("create needs <part_power> <replicas> <min_part_hours>")
    if os.path.exists(path):
        raise CommandError("%s already exists; remove it first to start over" % path)
    builder = RingBuilder(_number(args[0], "part_power", int), _number(args[1], "replicas"),
                          _number(args[2], "min_part_hours", int))
    builder.save(path)
    return EXIT_SUCCESS


def run(argv, out=sys.stdout):
    """Run one command; returns the exit code. Raises CommandError/ObjstoreError."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=out)
        return EXIT_SUCCESS if argv else EXIT_ERROR
    path, command, args = argv[0], (argv[1] if len(argv) > 1 else None), argv[2:]
    if command == "create":
        return _create(path, args, out)
    handler = cmd_default if command is None else COMMANDS.get(command)
    if handler is None:
        raise CommandError("unknown command %r (see --help)" % command)
    builder = RingBuilder.load(path)
    code, save = handler(path, builder, args, out)
    if save in (True, "ring"):
        builder.save(path)
    if save in ("ring", "ring-only"):
        builder.write_ring(ring_path_for(path))
    return code


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = run(argv)
    except (CommandError, ObjstoreError) as err:
        message = " ".join(str(err).split()) or err.__class__.__name__
        print("error: %s" % message, file=sys.stderr)
        code = EXIT_ERROR
    except OSError as err:
        print("error: %s: %s" % (err.filename or "", err.strerror or err), file=sys.stderr)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        code = EXIT_ERROR
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
