import dataclasses

import pytest

from objstore.common.config import build, load_section, option, options_of, read_ini
from objstore.common.exceptions import ConfigError


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str = option("x", "a name")
    count: int = option(3, "how many")
    ratio: float = option(0.5, "a ratio")
    enabled: bool = option(False, "on or off")
    hosts: tuple[str, ...] = option(("a", "b"), "some hosts")

    def validate(self):
        if self.count < 0:
            raise ValueError("count must be >= 0, got %d" % self.count)


def write(tmp_path, text):
    path = tmp_path / "x.conf"
    path.write_text(text)
    return str(path)


def test_typed_values(tmp_path):
    path = write(tmp_path, "[s]\nname = y\ncount = 7\nratio = 1.5\nenabled = yes\nhosts = h1, h2 h3\n")
    cfg = load_section(path, "s", Sample)
    assert cfg == Sample("y", 7, 1.5, True, ("h1", "h2", "h3"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.count = 1


def test_defaults_when_section_missing(tmp_path):
    assert load_section(write(tmp_path, "[other]\na = 1\n"), "s", Sample) == Sample()


def test_required_section(tmp_path):
    with pytest.raises(ConfigError, match=r"missing section \[s\]"):
        load_section(write(tmp_path, "[other]\n"), "s", Sample, required=True)


def test_unknown_key_names_file_section_key_value(tmp_path):
    path = write(tmp_path, "[s]\ncolour = red\n")
    with pytest.raises(ConfigError) as err:
        load_section(path, "s", Sample)
    msg = str(err.value)
    assert path in msg and "[s]" in msg and "colour" in msg and "red" in msg


@pytest.mark.parametrize("line,key", [("count = many", "count"), ("enabled = maybe", "enabled"), ("ratio = x", "ratio")])
def test_malformed_value(tmp_path, line, key):
    path = write(tmp_path, "[s]\n%s\n" % line)
    with pytest.raises(ConfigError) as err:
        load_section(path, "s", Sample)
    assert key in str(err.value) and line.split(" = ")[1] in str(err.value)


def test_validate_hook(tmp_path):
    with pytest.raises(ConfigError, match="count must be"):
        load_section(write(tmp_path, "[s]\ncount = -1\n"), "s", Sample)


def test_default_section_values_for_other_sections_are_ignored(tmp_path):
    path = write(tmp_path, "[DEFAULT]\ndevices = /srv\ncount = 9\n[s]\nname = z\n")
    cfg = load_section(path, "s", Sample)
    assert cfg.count == 9 and cfg.name == "z"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        read_ini(str(tmp_path / "nope.conf"))
    with pytest.raises(ConfigError, match="malformed"):
        read_ini(write(tmp_path, "no section header\n"))


def test_options_of_lists_docs():
    names = [name for name, _default, doc in options_of(Sample) if doc]
    assert names == ["name", "count", "ratio", "enabled", "hosts"]


def test_build_accepts_typed_values():
    assert build(Sample, {"count": 4}).count == 4
