"""Reading swift-bench's output."""

from benchmarks import swiftbench

OUTPUT = """\
swift-bench 2026-11-23 20:31:02,120 INFO Auth version: 1.0
swift-bench 2026-11-23 20:31:04,201 INFO 61 PUTS [0 failures], 30.4/s
swift-bench 2026-11-23 20:31:05,400 INFO 100 PUTS **FINAL** [0 failures], 31.2/s
swift-bench 2026-11-23 20:31:05,500 INFO Auth version: 1.0
swift-bench 2026-11-23 20:31:07,012 INFO 200 GETS **FINAL** [2 failures], 134.9/s
swift-bench 2026-11-23 20:31:07,100 INFO Auth version: 1.0
swift-bench 2026-11-23 20:31:09,300 INFO 100 DEL **FINAL** [0 failures], 48.3/s
"""


def test_parse_final_lines():
    assert swiftbench.parse_final_lines(OUTPUT) == {
        "PUT": {"requests": 100, "failures": 0, "ops_per_s": 31.2},
        "GET": {"requests": 200, "failures": 2, "ops_per_s": 134.9},
        "DELETE": {"requests": 100, "failures": 0, "ops_per_s": 48.3},
    }


def test_parse_ignores_progress_lines():
    assert swiftbench.parse_final_lines("swift-bench x INFO 61 PUTS [0 failures], 30.4/s\n") == {}
