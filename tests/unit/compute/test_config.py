"""Compute settings, flavors and the sample config."""

import os

import pytest

from objstore.common.config import format_value, options_of
from objstore.common.exceptions import ConfigError, FlavorNotFound
from objstore.compute import config
from objstore.compute.config import ComputeApiConfig, ComputeConfig, Flavor

pytestmark = pytest.mark.compute

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "etc", "compute.conf-sample")


def test_default_flavors_literals():
    flavors = config.flavors_from({})
    assert list(flavors) == ["m1.tiny", "m1.small", "m1.medium", "m1.large"]
    assert flavors["m1.tiny"] == Flavor("m1.tiny", 1, 256, 1)


def test_flavors_from_sections_replace_defaults():
    flavors = config.flavors_from({"flavor:x1": {"vcpus": "2", "ram_mib": "128", "disk_gib": "0"}, "compute": {}})
    assert flavors == {"x1": Flavor("x1", 2, 128, 0)}
    with pytest.raises(ConfigError):
        config.flavors_from({"flavor:bad": {"vcpus": "0"}})
    with pytest.raises(ConfigError):
        config.flavors_from({"flavor:bad": {"color": "red"}})


def test_find_flavor_names_the_known_ones():
    with pytest.raises(FlavorNotFound) as info:
        config.find_flavor(config.flavors_from({}), "m9.huge")
    assert info.value.status == 404 and "m1.tiny" in str(info.value)


def test_load_file_and_overrides(tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("[compute]\nvirt_type = kvm\nshutdown_timeout = 5\n[flavor:t]\nram_mib = 64\n")
    conf, flavors, _ = config.load(str(path), {"connection_uri": "test:///default"})
    assert conf.virt_type == "kvm" and conf.shutdown_timeout == 5.0
    assert conf.connection_uri == "test:///default"
    assert flavors["t"].ram_mib == 64
    conf, flavors, _ = config.load(None, {"connection_uri": None})
    assert conf == ComputeConfig() and "m1.tiny" in flavors


def test_virt_type_is_checked(tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("[compute]\nvirt_type = hyperv\n")
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    assert "virt_type" in str(info.value)


def test_default_state_dir():
    assert config.default_state_dir({"OBJSTORE_COMPUTE_STATE": "/x"}) == "/x"
    assert config.default_state_dir({"XDG_DATA_HOME": "/d"}) == "/d/objstore-compute"
    assert config.default_state_dir({"HOME": "/h"}) == "/h/.local/share/objstore-compute"


def test_sample_lists_every_option():
    text = open(SAMPLE).read()
    for cls, section in ((ComputeConfig, "[compute]"), (ComputeApiConfig, "[compute-api]")):
        assert section in text
        for name, default, _doc in options_of(cls):
            assert "# %s = %s" % (name, format_value(default)) in text, name
    for flavor in config.DEFAULT_FLAVORS:
        assert "# [flavor:%s]" % flavor.name in text
