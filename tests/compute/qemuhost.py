"""What the real-VM tests need from this host (QEMU, libvirt's QEMU driver,
root, the libvirt-qemu user), as checks that fail with what to install."""

import os
import shutil

import pytest


def need_qemu_embed():
    """What the real-VM test needs, or a failure saying what to install."""
    from tests.unit.compute.needs import need_libvirt, need_qemu_img

    need_libvirt()
    need_qemu_img()
    missing = [exe for exe in ("qemu-system-x86_64",) if shutil.which(exe) is None]
    if missing:
        pytest.fail("qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (make test does it)", pytrace=False)
    drivers = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
    if not os.path.exists(drivers):
        pytest.fail(
            "libvirt's QEMU driver is missing: apt-get install --no-install-recommends libvirt-daemon-driver-qemu "
            "libvirt-daemon (make test does it)",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail("the real-VM test runs qemu:///embed as root (COMPUTE-NOTES §3.4): run it as root", pytrace=False)
    ensure_libvirt_qemu_user()


def ensure_libvirt_qemu_user():
    """libvirt resolves its build-time default user before reading qemu.conf
    (COMPUTE-NOTES §3.2): create it once (idempotent)."""
    import grp
    import pwd
    import subprocess

    try:
        grp.getgrnam("libvirt-qemu")
    except KeyError:
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/var/lib/libvirt",
                "--shell",
                "/usr/sbin/nologin",
                "-g",
                "libvirt-qemu",
                "libvirt-qemu",
            ],
            check=True,
        )
