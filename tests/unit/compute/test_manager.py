"""Compute on libvirt's test driver (a fresh node.xml per test) with the FAKE
store: the whole lifecycle, the state machine, errors, reconciliation after a
restart, and that delete leaves nothing behind."""

import dataclasses
import os
import time

import pytest

from objstore.common.exceptions import (
    BadRequest,
    FlavorNotFound,
    HypervisorError,
    ImageNotFound,
    InstanceNotFound,
    InvalidInstanceState,
    NotFound,
    ObjstoreError,
)
from objstore.compute import states
from objstore.compute.imagecache import cache_name
from objstore.compute.manager import Compute, Host, account_of, read_tail

pytestmark = pytest.mark.compute


def _domains(host):
    return [dom.name() for dom in host.hypervisor.conn().listAllDomains(0)]


def test_account_of_literals():
    assert account_of("http://127.0.0.1:8080/v1/AUTH_test") == "AUTH_test"
    assert account_of("http://h/v1/AUTH_a%20b/") == "AUTH_a b"


def test_read_tail_literals(tmp_path):
    path = tmp_path / "log"
    assert read_tail(str(path), 100) == ""
    path.write_bytes(b"one\ntwo\nthree\nfour\n")
    assert read_tail(str(path), 100) == "one\ntwo\nthree\nfour\n"
    assert read_tail(str(path), 100, 2) == "three\nfour\n"
    assert read_tail(str(path), 100, 0) == ""
    assert read_tail(str(path), 12) == "three\nfour\n"  # the cut line is dropped


def test_full_lifecycle(compute, host, raw_image):
    inst = compute.boot("vm1", "m1.tiny", raw_image["id"], {"role": "web"})
    iid = inst["id"]
    assert inst["state"] == "ACTIVE" and inst["power_state"] == "running"
    assert inst["flavor"]["name"] == "m1.tiny" and inst["image"] == raw_image["id"]
    assert inst["metadata"] == {"role": "web"} and inst["domain"] == "objc-" + iid[:8]
    assert _domains(host) == [inst["domain"]]
    disk = os.path.join(host.state_dir, "instances", iid, "disk")
    assert os.path.exists(disk)
    assert host.cache.cached(raw_image["id"])
    steps = [
        (compute.pause, "PAUSED", "paused"),
        (compute.unpause, "ACTIVE", "running"),
        (compute.suspend, "SUSPENDED", "saved"),
        (compute.resume, "ACTIVE", "running"),
        (compute.stop, "STOPPED", "shutoff"),
        (compute.start, "ACTIVE", "running"),
        (lambda ref: compute.reboot(ref), "ACTIVE", "running"),
        (lambda ref: compute.reboot(ref, hard=True), "ACTIVE", "running"),
    ]
    for call, state, power in steps:
        view = call(iid)
        assert (view["state"], view["power_state"]) == (state, power)
        assert compute.show(iid)["state"] == state
    assert compute.meta_set(iid, {"tier": "1"})["metadata"] == {"role": "web", "tier": "1"}
    assert compute.meta_delete(iid, ["role"])["metadata"] == {"tier": "1"}
    assert '"tier": "1"' in host.hypervisor.xml_desc(iid)  # kept in the domain too
    snap = compute.snapshot(iid, "snap1")
    assert snap["disk_format"] == "qcow2" and snap["name"] == "snap1"
    assert compute.image_show(snap["id"])["checksum"] == snap["checksum"]
    assert compute.show(iid)["state"] == "ACTIVE"  # paused for the copy, then resumed
    assert [i["id"] for i in compute.list()] == [iid]
    assert compute.delete(iid) == {"id": iid, "state": "DELETED"}
    assert _domains(host) == []
    assert not os.path.exists(os.path.join(host.state_dir, "instances", iid))
    assert compute.list() == []
    with pytest.raises(InstanceNotFound):
        compute.show(iid)


def test_boot_from_snapshot_and_kernel_image(compute, host, raw_image, kernel_pair):
    first = compute.boot("vm1", "m1.tiny", raw_image["id"])
    snap = compute.snapshot(first["id"], "snap")
    second = compute.boot("vm2", "m1.tiny", snap["id"])
    assert second["state"] == "ACTIVE"
    tiny = compute.image_upload("tiny", kernel=kernel_pair[0], ramdisk=kernel_pair[1], cmdline="console=ttyS0 quiet")
    third = compute.boot("vm3", "m1.tiny", "tiny")
    xml = host.hypervisor.xml_desc(third["id"])
    assert "<kernel>" in xml and "<cmdline>console=ttyS0 quiet</cmdline>" in xml
    assert "append='on'" in xml
    snap3 = compute.snapshot(third["id"], "snap3")
    assert (snap3["kernel_id"], snap3["ramdisk_id"], snap3["cmdline"]) == (
        tiny["kernel_id"],
        tiny["ramdisk_id"],
        "console=ttyS0 quiet",
    )
    for inst in compute.list():
        compute.delete(inst["id"])
    assert _domains(host) == []


def test_disallowed_transitions_are_409_not_libvirt_errors(compute, raw_image):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    with pytest.raises(InvalidInstanceState, match="cannot unpause instance .* while it is ACTIVE"):
        compute.unpause(iid)
    with pytest.raises(InvalidInstanceState):
        compute.start(iid)
    compute.stop(iid)
    for call in (compute.pause, compute.suspend, compute.resume, compute.stop, compute.reboot):
        with pytest.raises(InvalidInstanceState) as info:
            call(iid)
        assert info.value.status == 409 and "STOPPED" in str(info.value)
    compute.reboot(iid, hard=True)  # allowed from STOPPED, as in Nova
    compute.pause(iid)
    with pytest.raises(InvalidInstanceState):
        compute.reboot(iid)
    with pytest.raises(InvalidInstanceState):
        compute.suspend(iid)
    assert compute.show(iid)["state"] == "PAUSED"


def test_bad_input_errors(compute, raw_image, kernel_pair, image_store):
    with pytest.raises(FlavorNotFound):
        compute.boot("vm", "m9.huge", raw_image["id"])
    with pytest.raises(ImageNotFound):
        compute.boot("vm", "m1.tiny", "no-such-image")
    with pytest.raises(InstanceNotFound):
        compute.pause("no-such-instance")
    with pytest.raises(BadRequest, match="needs a name"):
        compute.boot("", "m1.tiny", raw_image["id"])
    with pytest.raises(BadRequest, match="metadata"):
        compute.boot("vm", "m1.tiny", raw_image["id"], {"k": 1})
    kernel = image_store.upload_one("k", kernel_pair[0], "aki")
    with pytest.raises(BadRequest, match="not bootable by itself"):
        compute.boot("vm", "m1.tiny", kernel.id)
    assert compute.list() == []
    iid = compute.boot("vm", "m1.tiny", raw_image["id"])["id"]
    with pytest.raises(NotFound, match="no metadata key nope"):
        compute.meta_delete(iid, ["nope"])
    with pytest.raises(BadRequest):
        compute.snapshot(iid, "")
    with pytest.raises(BadRequest):
        compute.console_log(iid, -1)


def test_failed_build_is_error_and_delete_cleans_up(compute, host, raw_image, fake_swift):
    fake_swift.corrupt("AUTH_test", "images", raw_image["id"])
    with pytest.raises(ObjstoreError):
        compute.boot("vm", "m1.tiny", raw_image["id"])
    (inst,) = compute.list()
    assert inst["state"] == "ERROR" and "MD5" in inst["fault"]
    with pytest.raises(InvalidInstanceState):
        compute.snapshot(inst["id"], "s")
    compute.delete(inst["id"])
    assert compute.list() == [] and _domains(host) == []
    assert os.listdir(os.path.join(host.state_dir, "instances")) == []


def test_console_log_tail_is_capped(compute, raw_image):
    inst = compute.boot("vm1", "m1.tiny", raw_image["id"])
    assert compute.console_log(inst["id"]) == ""  # the test driver writes no console
    with open(inst["console_path"], "w") as handle:
        for i in range(500):
            handle.write("line %03d\n" % i)
    assert compute.console_log(inst["id"], 2) == "line 498\nline 499\n"
    everything = compute.console_log(inst["id"])
    assert len(everything) <= 1024 and everything.endswith("line 499\n")
    assert everything.startswith("line ")  # no half line at the cut


def test_owner_isolation(host, compute, raw_image, image_store):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    other = Compute(host, image_store, owner="AUTH_other")
    assert other.list() == []
    with pytest.raises(InstanceNotFound):
        other.pause(iid)
    operator = Compute(host)  # the local operator sees everything, needs no store
    assert [i["id"] for i in operator.list()] == [iid]
    with pytest.raises(BadRequest, match="needs the object store"):
        operator.image_list()


def test_restart_keeps_records_and_reconciles(compute_config, hypervisor, compute, host, raw_image, image_store):
    a = compute.boot("a", "m1.tiny", raw_image["id"])["id"]
    b = compute.boot("b", "m1.tiny", raw_image["id"])["id"]
    c = compute.boot("c", "m1.tiny", raw_image["id"])["id"]
    compute.meta_set(a, {"k": "v"})
    host.records.close()
    # behind the service's back (it is down): b paused, c shut off
    hypervisor.pause(b)
    hypervisor.destroy(c)
    restarted = Host(compute_config, host.flavors, hypervisor, host.state_dir)
    service = Compute(restarted, image_store, owner="AUTH_test")
    changes = sorted(service.reconcile())
    assert changes == sorted([(b, "ACTIVE", "PAUSED"), (c, "ACTIVE", "STOPPED")])
    views = {i["id"]: i for i in service.list()}
    assert views[a]["state"] == "ACTIVE" and views[a]["metadata"] == {"k": "v"}
    assert (views[b]["state"], views[b]["power_state"]) == ("PAUSED", "paused")
    assert service.unpause(b)["state"] == "ACTIVE"
    assert service.start(c)["state"] == "ACTIVE"
    restarted.records.close()


def test_lost_database_is_rebuilt_from_domain_metadata(compute_config, hypervisor, compute, host, raw_image, image_store):
    a = compute.boot("a", "m1.tiny", raw_image["id"], {"k": "v"})["id"]
    compute.suspend(a)
    host.records.close()
    for name in os.listdir(host.state_dir):
        if name.startswith("compute.db"):
            os.unlink(os.path.join(host.state_dir, name))
    restarted = Host(compute_config, host.flavors, hypervisor, host.state_dir)
    service = Compute(restarted, image_store, owner="AUTH_test")
    assert service.reconcile() == [(a, None, "SUSPENDED")]
    (view,) = service.list()
    assert (view["id"], view["name"], view["metadata"], view["state"]) == (a, "a", {"k": "v"}, "SUSPENDED")
    assert service.resume(a)["state"] == "ACTIVE"
    service.delete(a)
    assert _domains(restarted) == []
    restarted.records.close()


def test_domain_gone_means_error(compute_config, node_uri, compute, host, raw_image, image_store):
    from objstore.compute.driver import Hypervisor

    a = compute.boot("a", "m1.tiny", raw_image["id"])["id"]
    host.records.close()
    fresh = Hypervisor(node_uri)  # a new test-driver connection knows no domains
    restarted = Host(compute_config, host.flavors, fresh, host.state_dir)
    service = Compute(restarted, image_store, owner="AUTH_test")
    assert service.reconcile() == [(a, "ACTIVE", "ERROR")]
    view = service.show(a)
    assert view["state"] == "ERROR" and "missing" in view["fault"]
    assert service.reboot(a, hard=True)["state"] == "ACTIVE"  # hard reboot redefines it
    service.delete(a)
    restarted.close()


def test_stop_falls_back_to_hard_stop(compute, host, raw_image, monkeypatch):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    calls = []
    # a guest that ignores ACPI: shutdown() is accepted but nothing happens
    monkeypatch.setattr(host.hypervisor, "shutdown", lambda uuid: calls.append(uuid))
    view = compute.stop(iid, timeout=0.3)
    assert calls == [iid] and (view["state"], view["power_state"]) == ("STOPPED", "shutoff")


def test_soft_reboot_falls_back_to_hard(compute, host, raw_image, monkeypatch):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    monkeypatch.setattr(host.hypervisor, "shutdown", lambda uuid: None)
    assert compute.reboot(iid)["state"] == "ACTIVE"
    assert host.hypervisor.power_state(iid) == states.RUNNING


def test_stop_presses_the_power_button_again(compute, host, raw_image, monkeypatch):
    from objstore.compute import manager

    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    real_shutdown = host.hypervisor.shutdown
    presses = []

    def late_guest(uuid):  # a guest whose acpid was not up for the first press
        presses.append(uuid)
        if len(presses) == 2:
            real_shutdown(uuid)

    monkeypatch.setattr(manager, "SHUTDOWN_RETRY", 0.1)
    monkeypatch.setattr(host.hypervisor, "shutdown", late_guest)
    destroyed = []
    monkeypatch.setattr(host.hypervisor, "destroy", lambda uuid: destroyed.append(uuid))
    assert compute.stop(iid, timeout=30)["state"] == "STOPPED"
    assert len(presses) == 2 and destroyed == []  # clean: no hard stop


def test_deleting_an_image_in_use_keeps_its_cached_base(compute, host, raw_image):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    compute.image_delete(raw_image["id"])
    assert host.cache.cached(raw_image["id"])  # the overlay's backing file
    assert compute.reboot(iid, hard=True)["state"] == "ACTIVE"
    with pytest.raises(ImageNotFound):
        compute.boot("vm2", "m1.tiny", raw_image["id"])
    compute.delete(iid)


# --- the image cache pass: real overlays on the test driver; "now" is passed in
# (the only time mock) and old last uses are set with os.utime ------------------

DAY = 86400


def _age(host, image_id, seconds_ago):
    path = host.cache.path_for(image_id)
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def _cached(host):
    return sorted(name for name in os.listdir(host.cache.dir) if not name.endswith(".lock"))


def test_prune_never_removes_what_running_or_stopped_instances_use(compute, host, raw_image, raw_disk, kernel_pair):
    running = compute.boot("running", "m1.tiny", raw_image["id"])["id"]
    other = compute.image_upload("raw2", raw_disk)
    stopped = compute.boot("stopped", "m1.tiny", other["id"])["id"]
    compute.stop(stopped)
    tiny = compute.image_upload("tiny", kernel=kernel_pair[0], ramdisk=kernel_pair[1])
    kernel_only = compute.boot("kernel", "m1.tiny", tiny["id"])["id"]
    compute.suspend(kernel_only)
    ids = (raw_image["id"], other["id"], tiny["kernel_id"], tiny["ramdisk_id"])
    assert _cached(host) == sorted(cache_name(i) for i in ids)
    for image_id in ids:
        _age(host, image_id, 400 * DAY)
    result = compute.cache_prune(now=time.time() + 365 * DAY)
    assert result["removed"] == [] and _cached(host) == sorted(cache_name(i) for i in ids)
    assert sorted(k["reason"] for k in result["kept"]) == ["in use by an instance"] * 4
    # the row of one instance is lost: its domain's record still protects the base
    host.records.delete(running)
    assert compute.cache_prune(now=time.time() + 365 * DAY)["removed"] == []
    assert compute.start(stopped)["state"] == "ACTIVE"  # its overlay still has its base


def test_a_deleted_instances_base_stays_for_max_age_then_goes(compute, host, raw_image):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]
    _age(host, raw_image["id"], 30 * DAY)  # fetched long ago...
    compute.delete(iid)  # ...but used until now: delete marks it used
    assert _cached(host) == [cache_name(raw_image["id"])]
    assert compute.cache_prune(now=time.time() + 3600)["removed"] == []
    dry = compute.cache_prune(dry_run=True, now=time.time() + DAY + 60)
    assert [e["kind"] for e in dry["removed"]] == ["base", "lock"] and dry["bytes_freed"] > 0
    assert _cached(host) == [cache_name(raw_image["id"])]
    done = compute.cache_prune(now=time.time() + DAY + 60)
    assert done["removed"] == dry["removed"] and os.listdir(host.cache.dir) == []
    # a later boot fetches the image again
    assert compute.boot("vm2", "m1.tiny", raw_image["id"])["state"] == "ACTIVE"
    assert _cached(host) == [cache_name(raw_image["id"])]


def test_boot_and_delete_run_a_pass(compute, host, raw_image, raw_disk, fake_swift):
    a = compute.boot("a", "m1.tiny", raw_image["id"])["id"]
    other = compute.image_upload("raw2", raw_disk)
    b = compute.boot("b", "m1.tiny", other["id"])["id"]
    compute.delete(a)
    _age(host, raw_image["id"], 2 * DAY)  # a's base: unused for two days
    open(host.cache.path_for("interrupted") + ".part", "wb").write(b"half")
    compute.delete(b)  # the pass after this delete removes a's base and the temp file
    assert _cached(host) == [cache_name(other["id"])]
    _age(host, other["id"], 2 * DAY)
    compute.boot("c", "m1.tiny", raw_image["id"])  # and so does the one after a boot
    assert _cached(host) == [cache_name(raw_image["id"])]


def test_prune_failure_does_not_fail_delete_and_max_age_zero_disables(compute, host, raw_image, monkeypatch):
    iid = compute.boot("vm1", "m1.tiny", raw_image["id"])["id"]

    def libvirt_down():
        raise HypervisorError("cannot list domains: libvirt went away")

    monkeypatch.setattr(host.hypervisor, "ours", libvirt_down)  # a fault we cannot make for real
    with pytest.raises(HypervisorError):
        compute.cache_prune()  # not knowing every instance: remove nothing
    assert compute.delete(iid)["state"] == "DELETED"  # the automatic pass only logs
    _age(host, raw_image["id"], 400 * DAY)
    host.config = compute.config = dataclasses.replace(compute.config, image_cache_max_age=0)
    assert compute.cache_prune()["removed"] == []
    assert compute.cache_prune(max_age=0)["removed"] == [] and _cached(host) == [cache_name(raw_image["id"])]
    with pytest.raises(BadRequest):
        compute.cache_prune(max_age=-1)


def test_cache_names_of_an_instance_include_what_its_overlay_backs_onto(tmp_path):
    from objstore.compute.imagecache import create_overlay
    from objstore.compute.manager import _cache_names
    from objstore.compute.records import Instance

    cache_dir = tmp_path / "_base"
    cache_dir.mkdir()
    base = cache_dir / cache_name("other")  # e.g. a record that names another image than its disk
    base.write_bytes(b"\0" * 65536)
    disk = str(tmp_path / "disk")
    create_overlay(str(base), "raw", disk)
    inst = Instance(
        "i", "vm", "o", "ACTIVE", {}, "img", "objc-i", str(tmp_path), "", disk_path=disk,
        kernel_id="k", kernel_path=str(cache_dir / cache_name("k")), ramdisk_path="/boot/initrd.img",
    )
    assert _cache_names(inst, str(cache_dir)) == {cache_name("img"), cache_name("k"), cache_name("other")}
    assert _cache_names(inst, str(cache_dir), with_disk=False) == {cache_name("img"), cache_name("k")}
