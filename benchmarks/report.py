"""From measured figures to what a reader sees: the table (ours, Swift's,
ratio ours/Swift per row), the JSON record in ``benchmarks/results/`` and an
SVG chart of the ratios.

The chart is hand-written SVG (a few rectangles and text), so the benchmark
needs no plotting library. Measuring is not here (workloads.py, references.py).

Everything below takes plain dicts, so tests call it with literals.
"""

import json
import math
import os
import statistics
from xml.sax.saxutils import escape

SYSTEMS = ("objstore", "swift")


def _round(path):
    """A getter of ``path`` (keys) in one round's dict."""
    def get(d):
        for key in path:
            d = d[key]
        return d
    return get


# (label, unit, better, where, getter): ``where`` is "round" (median over the
# rounds) or "system" (one figure per system per run).
ROWS = (
    ("(a) 4 KiB PUT, c=10", "ops/s", "higher", "round", _round(("small", "PUT", "ops_per_s"))),
    ("(a) 4 KiB GET, c=10", "ops/s", "higher", "round", _round(("small", "GET", "ops_per_s"))),
    ("(a) 4 KiB HEAD, c=10", "ops/s", "higher", "round", _round(("small", "HEAD", "ops_per_s"))),
    ("(a) 4 KiB DELETE, c=10", "ops/s", "higher", "round", _round(("small", "DELETE", "ops_per_s"))),
    ("(e) 4 KiB PUT p50", "ms", "lower", "round", _round(("small", "PUT", "p50_ms"))),
    ("(e) 4 KiB PUT p99", "ms", "lower", "round", _round(("small", "PUT", "p99_ms"))),
    ("(e) 4 KiB GET p50", "ms", "lower", "round", _round(("small", "GET", "p50_ms"))),
    ("(e) 4 KiB GET p99", "ms", "lower", "round", _round(("small", "GET", "p99_ms"))),
    ("(e) 4 KiB HEAD p99", "ms", "lower", "round", _round(("small", "HEAD", "p99_ms"))),
    ("(e) 4 KiB DELETE p99", "ms", "lower", "round", _round(("small", "DELETE", "p99_ms"))),
    ("(a) 4 KiB PUT server CPU", "ms/op", "lower", "round", _round(("small", "PUT", "server_cpu_ms_per_op"))),
    ("(a) 4 KiB GET server CPU", "ms/op", "lower", "round", _round(("small", "GET", "server_cpu_ms_per_op"))),
    ("(a) 4 KiB HEAD server CPU", "ms/op", "lower", "round", _round(("small", "HEAD", "server_cpu_ms_per_op"))),
    ("(a) 4 KiB DELETE server CPU", "ms/op", "lower", "round",
     _round(("small", "DELETE", "server_cpu_ms_per_op"))),
    ("(a) swift-bench 4 KiB PUT", "ops/s", "higher", "round", _round(("swiftbench_small", "PUT", "ops_per_s"))),
    ("(a) swift-bench 4 KiB GET", "ops/s", "higher", "round", _round(("swiftbench_small", "GET", "ops_per_s"))),
    ("(a) swift-bench 4 KiB DELETE", "ops/s", "higher", "round",
     _round(("swiftbench_small", "DELETE", "ops_per_s"))),
    ("(b) swift-bench 4 MiB PUT", "MB/s", "higher", "round", _round(("swiftbench_large", "PUT", "mb_per_s"))),
    ("(b) swift-bench 4 MiB GET", "MB/s", "higher", "round", _round(("swiftbench_large", "GET", "mb_per_s"))),
    ("(b) swift-bench 4 MiB DELETE", "ops/s", "higher", "round",
     _round(("swiftbench_large", "DELETE", "ops_per_s"))),
    ("(c) large object PUT, 1 stream", "MB/s", "higher", "round", _round(("large_stream", "PUT", "mb_per_s"))),
    ("(c) large object GET, 1 stream", "MB/s", "higher", "round", _round(("large_stream", "GET", "mb_per_s"))),
    ("(c) large object PUT+GET server CPU", "s/GB", "lower", "round",
     _round(("large_stream", "server_cpu_s_per_gb"))),
    ("(d) listing, JSON pages, c=10", "pages/s", "higher", "round", _round(("listing", "ops_per_s"))),
    ("(f) RSS at rest", "MiB", "lower", "system", _round(("memory_rest", "rss_mib"))),
    ("(f) PSS at rest", "MiB", "lower", "system", _round(("memory_rest", "pss_mib"))),
    ("(f) RSS peak under (a)", "MiB", "lower", "round", _round(("memory_under_small", "rss_mib"))),
    ("(f) PSS peak under (a)", "MiB", "lower", "round", _round(("memory_under_small", "pss_mib"))),
    ("(f) processes", "", "lower", "system", _round(("memory_rest", "processes"))),
    ("(f) RSS at rest, daemons running", "MiB", "lower", "system", _round(("memory_daemons", "rss_mib"))),
    ("(f) PSS at rest, daemons running", "MiB", "lower", "system", _round(("memory_daemons", "pss_mib"))),
    ("(f) processes, daemons running", "", "lower", "system", _round(("memory_daemons", "processes"))),
)


def median_or_none(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def figure(system_result, where, getter):
    """The figure of one row for one system: median over rounds, or the system's own."""
    if system_result is None:
        return None
    if where == "system":
        try:
            return getter(system_result)
        except (KeyError, TypeError):
            return None
    values = []
    for one in system_result.get("rounds", ()):
        try:
            values.append(getter(one))
        except (KeyError, TypeError):
            pass
    return median_or_none(values)


def ratio(ours, theirs):
    if ours is None or theirs in (None, 0):
        return None
    return round(ours / theirs, 2)


def build_table(systems):
    """``[{"row", "unit", "better", "objstore", "swift", "ratio"}]`` from ``{system: result}``."""
    table = []
    for label, unit, better, where, getter in ROWS:
        ours = figure(systems.get("objstore"), where, getter)
        theirs = figure(systems.get("swift"), where, getter)
        table.append({"row": label, "unit": unit, "better": better, "objstore": ours, "swift": theirs,
                      "ratio": ratio(ours, theirs)})
    return table


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float) and value < 10:
        return "%.2f" % value
    if isinstance(value, float) and value < 100:
        return "%.1f" % value
    return "{:,.0f}".format(value)


def text_table(table, references=None, markdown=False):
    """The table as text: aligned columns for a terminal, or Markdown."""
    header = ("workload", "unit", "objstore", "Swift", "ours/Swift", "better")
    rows = [(r["row"], r["unit"], _fmt(r["objstore"]), _fmt(r["swift"]),
             ("%.2fx" % r["ratio"]) if r["ratio"] is not None else "-", r["better"]) for r in table]
    refs = []
    if references:
        mib = references.get("size_mib", 256)
        refs.append(("(g) dd %d MiB conv=fsync (same filesystem)" % mib, "MB/s",
                     _fmt(references.get("dd_fsync_mb_per_s")), "", "", "reference"))
        refs.append(("(g) python http.server GET, loopback, 1 stream", "MB/s",
                     _fmt(references.get("loopback_http_mb_per_s")), "", "", "reference"))
        if "fanout_put_mb_per_s" in references:  # results from before it was measured lack it
            refs.append(("(g) plain Python relay to 3 fsyncing writers, quorum 2, 1 stream", "MB/s",
                         _fmt(references["fanout_put_mb_per_s"]), "", "", "reference"))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows + refs:
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)
    widths = [max(len(str(row[i])) for row in [header] + rows + refs) for i in range(len(header))]
    lines = []
    for n, row in enumerate([header] + rows + refs):
        lines.append("  ".join(str(cell).ljust(widths[i]) if i < 2 else str(cell).rjust(widths[i])
                               for i, cell in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def svg_chart(table, title):
    """A bar chart of objstore's advantage per row, as SVG text.

    The advantage is ours/Swift, or Swift/ours for "lower is better" rows, so a
    bar to the right of the 1x line is always better for objstore. The axis is
    logarithmic (1/8x .. 8x; longer bars are clipped and labelled), so 2x
    better and 2x worse look the same size.
    """
    rows = [r for r in table if r["ratio"]]
    left, half, row_h, top, span = 300, 230, 22, 58, 3.0  # span: log2 of the axis end (8x)
    height = top + row_h * len(rows) + 40
    width = left + 2 * half + 70
    center = left + half

    def x(value):
        return center + half * max(-span, min(span, math.log2(value))) / span

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">%s</text>' % escape(title),
           '<text x="10" y="38" fill="#555">objstore\'s advantage per workload: ours/Swift, or Swift/ours where '
           'lower is better (latency, CPU, memory).</text>',
           '<text x="10" y="52" fill="#555">Right of 1x: objstore better. Log scale.</text>']
    for mark in (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="%s"/>'
                   % (x(mark), top, x(mark), top + row_h * len(rows),
                      "#333" if mark == 1.0 else "#bbb", "none" if mark == 1.0 else "3,3"))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%sx</text>'
                   % (x(mark), top + row_h * len(rows) + 15, ("%g" % mark) if mark >= 1 else "1/%d" % (1 / mark)))
    for i, r in enumerate(rows):
        y = top + i * row_h
        adv = _advantage(r)
        end = x(adv)
        color = "#2e7d32" if adv >= 1 else "#c62828"
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 8, y + 15, escape(r["row"])))
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                   % (min(center, end), y + 4, max(abs(end - center), 1), row_h - 8, color))
        label_x, anchor = (end + 4, "start") if adv >= 1 else (end - 4, "end")
        out.append('<text x="%.1f" y="%d" text-anchor="%s">%.2fx</text>' % (label_x, y + 15, anchor, adv))
    out.append("</svg>")
    return "\n".join(out)


def _advantage(row):
    return row["ratio"] if row["better"] == "higher" else (1.0 / row["ratio"] if row["ratio"] else 0.0)


def write(results, results_dir, stamp):
    """Write ``<stamp>.json`` and ``<stamp>.svg`` into ``results_dir``; returns their paths."""
    os.makedirs(results_dir, exist_ok=True)
    json_path = os.path.join(results_dir, "%s.json" % stamp)
    svg_path = os.path.join(results_dir, "%s.svg" % stamp)
    with open(json_path + ".tmp", "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    title = "objstore vs OpenStack Swift, %s, %s" % (results.get("date", stamp),
                                                     results.get("machine", {}).get("cpu", ""))
    with open(svg_path, "w") as f:
        f.write(svg_chart(results["table"], title))
    return json_path, svg_path


def markdown_section(results):
    """The README's benchmark section for one saved run: date, machine, table, durability."""
    machine = results.get("machine", {})
    systems = results.get("systems", {})
    names = ", ".join(s.get("info", {}).get("system", n) for n, s in sorted(systems.items()))
    lines = [
        "Measured %s on %s (%s cores, %s GiB RAM, %s), devices of both on %s; %s; median of %s round(s)%s."
        % (results.get("date"), machine.get("cpu"), machine.get("cores"), machine.get("memory_gib"),
           machine.get("os"), results.get("filesystem"), names, results.get("rounds"),
           " (--quick)" if results.get("quick") else ""),
        "",
        text_table(results["table"], results.get("references"), markdown=True),
        "",
        results.get("durability", ""),
    ]
    loads = [r.get("load_average_before", [None])[0] for s in systems.values() for r in s.get("rounds", ())]
    loads = [x for x in loads if x is not None]
    if loads:
        lines += ["", "The machine was shared with other work: 1-minute load average %.0f-%.0f during the run "
                      "(server CPU per request is the figure other load moves least)." % (min(loads), max(loads))]
    return "\n".join(lines)


def main(argv=None):
    """``python -m benchmarks.report RESULTS.json [--markdown]``: show a saved run again."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=main.__doc__)
    parser.add_argument("results")
    parser.add_argument("--markdown", action="store_true", help="the README section (Markdown)")
    args = parser.parse_args(argv)
    with open(args.results) as f:
        results = json.load(f)
    if args.markdown:
        print(markdown_section(results))
    else:
        print(text_table(results["table"], results.get("references")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
