"""objstore-dispersion-report: sample choice and the summary, with literals."""

from objstore.cli import dispersion


def test_sample_names_cover_distinct_partitions():
    names = dispersion.sample_names(lambda name: int(name.split("_")[1]) % 7, 7, 50.0)
    assert names == ["dispersion_0", "dispersion_1", "dispersion_2", "dispersion_3"]
    assert dispersion.sample_names(lambda name: 0, 1024, 1.0) == ["dispersion_0"]  # cannot find more
    assert len(dispersion.sample_names(lambda name: int(name.split("_")[1]), 1024, 1.0)) == 11


def test_summarize():
    result = dispersion.summarize([(3, 3), (2, 3), (0, 3), (3, 3)])
    assert result == {"items": 4, "copies_found": 8, "copies_expected": 12, "pct_found": 66.67,
                      "all_copies": 2, "missing_some": 1, "missing_all": 1}
    assert dispersion.summarize([])["pct_found"] == 100.0
    text = dispersion.format_report({"object": result})
    assert "66.67% of object copies found (8 of 12)" in text
