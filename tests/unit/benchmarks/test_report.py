"""The table, ratios, text and SVG rendering, from literal figures."""

import json
import xml.dom.minidom

from benchmarks import report


def _round(put, get_p99):
    return {"small": {"PUT": {"ops_per_s": put, "p99_ms": get_p99}, "GET": {"p99_ms": get_p99}}}


SYSTEMS = {
    "objstore": {"rounds": [_round(100.0, 10.0), _round(120.0, 30.0), _round(110.0, 20.0)],
                 "memory_rest": {"rss_mib": 300.0, "pss_mib": 200.0, "processes": 14}},
    "swift": {"rounds": [_round(50.0, 40.0), _round(55.0, 40.0)],
              "memory_rest": {"rss_mib": 600.0, "pss_mib": 500.0, "processes": 15}},
}


def _row(table, label):
    return next(r for r in table if r["row"] == label)


def test_median_over_rounds_and_ratio():
    table = report.build_table(SYSTEMS)
    put = _row(table, "(a) 4 KiB PUT, c=10")
    assert (put["objstore"], put["swift"], put["ratio"]) == (110.0, 52.5, 2.1)
    assert put["better"] == "higher"
    rss = _row(table, "(f) RSS at rest")
    assert (rss["objstore"], rss["swift"], rss["ratio"], rss["better"]) == (300.0, 600.0, 0.5, "lower")


def test_missing_figures_are_none_not_errors():
    table = report.build_table({"swift": SYSTEMS["swift"]})
    put = _row(table, "(a) 4 KiB PUT, c=10")
    assert put["objstore"] is None and put["ratio"] is None
    listing = _row(table, "(d) listing, JSON pages, c=10")
    assert listing["swift"] is None


def test_ratio_edge_cases():
    assert report.ratio(None, 3) is None
    assert report.ratio(3, 0) is None
    assert report.ratio(3, 2) == 1.5


def test_text_table_terminal_and_markdown():
    table = report.build_table(SYSTEMS)
    refs = {"dd_fsync_mb_per_s": 455.0, "loopback_http_mb_per_s": 1467.0, "size_mib": 256}
    text = report.text_table(table, refs)
    assert "(a) 4 KiB PUT, c=10" in text and "2.10x" in text and "1,467" in text
    md = report.text_table(table, refs, markdown=True)
    assert md.splitlines()[0].startswith("| workload |")
    assert "| (g) dd 256 MiB conv=fsync (same filesystem) | MB/s | 455 |" in md
    assert "relay to 3 fsyncing writers" not in md  # results from before it was measured
    md = report.text_table(table, dict(refs, fanout_put_mb_per_s=171.4), markdown=True)
    assert "| (g) plain Python relay to 3 fsyncing writers, quorum 2, 1 stream | MB/s | 171 |" in md


def test_svg_is_well_formed_and_shows_advantage():
    table = report.build_table(SYSTEMS)
    svg = report.svg_chart(table, "objstore vs Swift <test>")
    doc = xml.dom.minidom.parseString(svg)
    texts = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
    assert "2.10x" in texts  # PUT ratio
    assert "2.00x" in texts  # RSS at rest: Swift/ours, longer is better


def test_write_json_and_svg(tmp_path):
    results = {"date": "2026-11-23 22:00 UTC", "machine": {"cpu": "test"}, "table": report.build_table(SYSTEMS)}
    json_path, svg_path = report.write(results, str(tmp_path), "stamp")
    assert json.load(open(json_path))["table"] == results["table"]
    assert open(svg_path).read().startswith("<svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stamp.json", "stamp.svg"]


def test_run_options():
    from benchmarks import run

    assert run.parse_args(["--quick"]).rounds == 1
    args = run.parse_args(["--only", "ours", "--rounds", "5", "--fs", "dir"])
    assert (args.only, args.rounds, args.fs, args.swift_pipeline) == ("ours", 5, "dir", "default")
    assert run.parse_args([]).rounds == 3


def test_markdown_section_and_cli(tmp_path, capsys):
    results = {"date": "2026-11-23 22:15 UTC", "rounds": 3, "quick": False, "filesystem": "xfs (loop)",
               "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 23.5, "os": "Debian"},
               "systems": {"objstore": {"info": {"system": "objstore abc123"},
                                        "rounds": [{"load_average_before": [3.0, 2, 1]}]},
                           "swift": {"info": {"system": "OpenStack Swift 2.38.3"},
                                     "rounds": [{"load_average_before": [5.0, 2, 1]}]}},
               "durability": "Both fsync.", "table": report.build_table(SYSTEMS)}
    text = report.markdown_section(results)
    assert text.startswith("Measured 2026-11-23 22:15 UTC on Test CPU (2 cores")
    assert "objstore abc123, OpenStack Swift 2.38.3; median of 3 round(s)." in text
    assert "| (a) 4 KiB PUT, c=10 | ops/s | 110 | 52.5 | 2.10x | higher |" in text
    assert "load average 3-5" in text
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    assert report.main([str(path), "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == text
