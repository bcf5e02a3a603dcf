"""The libvirt driver on the test driver: libvirt errors become domain
exceptions with an HTTP status, power states map to ours."""

import uuid

import pytest

from objstore.common.exceptions import HypervisorError, HypervisorUnavailable, InstanceNotFound, InvalidInstanceState
from objstore.compute import states
from objstore.compute.domain import DomainSpec, domain_xml, metadata_element
from tests.unit.compute.needs import need_libvirt

pytestmark = pytest.mark.compute


def _define(hv, tmp_path, record=None):
    iid = str(uuid.uuid4())
    spec = DomainSpec(
        name="objc-" + iid[:8],
        uuid=iid,
        virt_type="qemu",
        vcpus=1,
        ram_mib=128,
        console_path=str(tmp_path / "console.log"),
        disk_path=str(tmp_path / "disk"),
        metadata=metadata_element(record) if record else "",
    )
    hv.define(domain_xml(spec))
    return iid


def test_power_states_through_a_lifecycle(hypervisor, tmp_path):
    iid = _define(hypervisor, tmp_path)
    assert hypervisor.power_state(iid) == states.SHUTOFF
    hypervisor.start(iid)
    assert hypervisor.power_state(iid) == states.RUNNING
    hypervisor.pause(iid)
    assert hypervisor.power_state(iid) == states.POWER_PAUSED
    hypervisor.unpause(iid)
    hypervisor.managed_save(iid)
    assert hypervisor.power_state(iid) == states.SAVED
    hypervisor.start(iid)
    assert hypervisor.power_state(iid) == states.RUNNING
    hypervisor.shutdown(iid)
    assert hypervisor.wait_for(iid, (states.SHUTOFF,), 5)
    hypervisor.destroy(iid)  # already off: fine
    hypervisor.undefine(iid)
    assert hypervisor.power_state(iid) == states.MISSING
    hypervisor.undefine(iid)  # already gone: fine


def test_errors_are_translated(hypervisor, tmp_path):
    with pytest.raises(InstanceNotFound) as info:
        hypervisor.start(str(uuid.uuid4()))
    assert info.value.status == 404
    iid = _define(hypervisor, tmp_path)
    # the test driver reports "not running" as an internal error (QEMU says
    # operation invalid -> 409); either way no libvirtError escapes, one line
    with pytest.raises((HypervisorError, InvalidInstanceState)) as info:
        hypervisor.pause(iid)
    assert "not running" in str(info.value) and "\n" not in str(info.value)
    assert type(info.value).__module__ == "objstore.common.exceptions"


def test_unreachable_uri_is_503_one_line():
    need_libvirt()
    from objstore.compute.driver import Hypervisor

    hv = Hypervisor("test:///nonexistent/dir/node.xml")
    with pytest.raises(HypervisorUnavailable) as info:
        hv.power_state(str(uuid.uuid4()))
    assert info.value.status == 503 and "cannot connect to libvirt" in str(info.value)
    assert "\n" not in str(info.value)


def test_ours_lists_only_domains_with_our_record(hypervisor, tmp_path):
    theirs = _define(hypervisor, tmp_path)
    mine = _define(hypervisor, tmp_path, {"id": "x", "name": "n"})
    hypervisor.set_record(mine, '{"id": "x", "name": "renamed"}')
    found = hypervisor.ours()
    assert [(u, p, r["name"]) for u, p, r in found] == [(mine, states.SHUTOFF, "renamed")]
    assert theirs not in [u for u, _, _ in found]
    assert hypervisor.describe()["type"] == "TEST"


def test_embed_root_gets_its_qemu_conf(tmp_path):
    import os

    need_libvirt()
    from objstore.compute.driver import EMBED_QEMU_CONF, needs_event_loop, prepare_embed_root

    uri = "qemu:///embed?root=%s" % (tmp_path / "e")
    assert needs_event_loop(uri) and not needs_event_loop("qemu:///system")
    prepare_embed_root(uri)
    conf = tmp_path / "e" / "etc" / "qemu.conf"
    if os.geteuid() == 0:
        assert conf.read_text() == EMBED_QEMU_CONF
        conf.write_text("# mine\n")
        prepare_embed_root(uri)  # never overwrites an operator's file
        assert conf.read_text() == "# mine\n"
    else:
        assert not conf.exists()
