from tests.run_suites import summarize


def test_summarize_reads_pytest_closing_line():
    out = "....\n==== 3 passed, 1 failed, 2 errors, 1 xfailed in 2.00s ====\n"
    assert summarize(out) == {"passed": 3, "failed": 1, "errors": 2, "xfailed": 1}
    assert summarize("10 passed, 1 error in 1s") == {"passed": 10, "errors": 1}
    assert summarize("no output at all") == {}
