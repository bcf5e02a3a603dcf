"""The domain XML builder and the record kept in domain metadata (pure)."""

import xml.etree.ElementTree as ET

import pytest

from objstore.common.exceptions import BadRequest
from objstore.compute.domain import (
    DomainSpec,
    console_path_of,
    domain_name,
    domain_xml,
    metadata_element,
    record_from_domain_xml,
    record_from_metadata,
)

pytestmark = pytest.mark.compute

UUID = "0f0e0d0c-0b0a-4009-8807-060504030201"


def _spec(**kw):
    base = dict(
        name="objc-0f0e0d0c",
        uuid=UUID,
        virt_type="qemu",
        vcpus=2,
        ram_mib=256,
        console_path="/s/i/console.log",
        disk_path="/s/i/disk",
        kernel="/s/_base/k",
        initrd="/s/_base/r",
        cmdline="console=ttyS0",
    )
    base.update(kw)
    return DomainSpec(**base)


def test_domain_name_literal():
    assert domain_name(UUID) == "objc-0f0e0d0c"


def test_qemu_direct_kernel_boot_xml():
    dom = ET.fromstring(domain_xml(_spec(metadata=metadata_element({"id": UUID}))))
    assert dom.get("type") == "qemu"
    assert dom.findtext("name") == "objc-0f0e0d0c" and dom.findtext("uuid") == UUID
    assert dom.find("memory").get("unit") == "MiB" and dom.findtext("memory") == "256"
    assert dom.findtext("vcpu") == "2"
    assert dom.find("os/type").text == "hvm" and dom.find("os/type").get("arch") == "x86_64"
    assert dom.findtext("os/kernel") == "/s/_base/k" and dom.findtext("os/initrd") == "/s/_base/r"
    assert dom.findtext("os/cmdline") == "console=ttyS0"
    assert dom.find("features/acpi") is not None
    disk = dom.find("devices/disk")
    assert disk.find("driver").get("type") == "qcow2" and disk.find("target").get("bus") == "virtio"
    serial = dom.find("devices/serial")
    assert serial.get("type") == "file"
    assert serial.find("source").attrib == {"path": "/s/i/console.log", "append": "on"}
    assert dom.find("devices/interface").get("type") == "user"
    assert dom.find("devices/graphics") is None
    assert record_from_domain_xml(domain_xml(_spec(metadata=metadata_element({"id": UUID})))) == {"id": UUID}


def test_kvm_is_only_what_config_says():
    assert ET.fromstring(domain_xml(_spec(virt_type="kvm"))).get("type") == "kvm"
    assert ET.fromstring(domain_xml(_spec(virt_type="qemu"))).get("type") == "qemu"


def test_disk_boot_without_kernel():
    dom = ET.fromstring(domain_xml(_spec(kernel="", initrd="", cmdline="")))
    assert dom.find("os/kernel") is None and dom.find("os/boot").get("dev") == "hd"


def test_tcg_cache_and_machine():
    dom = ET.fromstring(domain_xml(_spec(tb_cache_mib=32, machine="pc")))
    assert dom.find("features/tcg/tb-cache").text == "32"
    assert dom.find("os/type").get("machine") == "pc"


def test_xen_vbox_lxc_shapes():
    xen = ET.fromstring(domain_xml(_spec(virt_type="xen")))
    assert xen.get("type") == "xen" and xen.findtext("os/type") == "linux"
    assert xen.find("devices/disk/target").attrib == {"dev": "xvda", "bus": "xen"}
    vbox = ET.fromstring(domain_xml(_spec(virt_type="vbox", kernel="", initrd="")))
    assert vbox.get("type") == "vbox" and vbox.find("devices/disk/target").get("bus") == "sata"
    lxc = ET.fromstring(domain_xml(_spec(virt_type="lxc", rootfs_dir="/s/rootfs")))
    assert lxc.findtext("os/type") == "exe" and lxc.findtext("os/init") == "/sbin/init"
    assert lxc.find("devices/filesystem/source").get("dir") == "/s/rootfs"


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(virt_type="vbox"), "vbox cannot boot a kernel"),
        (dict(virt_type="lxc"), "lxc boots a root directory"),
        (dict(kernel="", disk_path=""), "nothing to boot"),
    ],
)
def test_impossible_combinations(kw, words):
    with pytest.raises(BadRequest) as info:
        domain_xml(_spec(**kw))
    assert words in str(info.value) and info.value.status == 400


def test_metadata_round_trip_and_garbage():
    record = {"id": UUID, "name": "vm <1> & 'x'", "metadata": {"k": "v"}}
    assert record_from_metadata(metadata_element(record)) == record
    assert record_from_metadata("") is None
    assert record_from_metadata("<instance>not json</instance>") is None
    assert record_from_metadata("<instance>{\"no\": \"id\"}</instance>") is None
    assert record_from_domain_xml("<domain><name>x</name></domain>") is None
    assert record_from_domain_xml("<<<") is None


def test_console_path_of():
    assert console_path_of(domain_xml(_spec())) == "/s/i/console.log"
    assert console_path_of("<domain><devices/></domain>") is None
