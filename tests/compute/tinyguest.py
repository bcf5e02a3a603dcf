"""Build the tiny busybox guest of COMPUTE-NOTES §3.5 (a Debian kernel plus a
busybox initramfs, ~9 MB) for the end-to-end test and the benchmark.

The kernel and busybox come from Debian packages fetched with
``apt-get download`` (no install); the result is cached under
``$OBJSTORE_COMPUTE_GUEST_CACHE`` (default ``~/.cache/objstore-compute``) per
kernel package, so only the first run pays the ~70 MB download.

The guest's /init prints ``GUEST-BOOT-OK``, loads virtio modules, starts
busybox acpid (so an ACPI power button powers it off), prints
``GUEST-READY`` and then a heartbeat every 5 s.
"""

import os
import shutil
import subprocess
import tempfile

READY = "GUEST-READY"

INIT = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "GUEST-BOOT-OK kernel=$(uname -r)"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk failover net_failover virtio_net button evdev; do
  insmod /lib/modules/$m.ko 2>/dev/null || echo "insmod $m failed"
done
sleep 1
echo "GUEST-DEVICES block=$(ls /sys/block | tr '\n' ' ') net=$(ls /sys/class/net | tr '\n' ' ')"
printf '#!/bin/sh\necho GUEST-ACPI-POWER-BUTTON\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -f -c /etc/acpi -l /dev/console &
echo "GUEST-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
while true; do echo "HEARTBEAT $(cut -d' ' -f1 /proc/uptime)"; sleep 5; done
"""

MODULES = (
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci",
    "drivers/block/virtio_blk",
    "net/core/failover",
    "drivers/net/net_failover",
    "drivers/net/virtio_net",
    "drivers/acpi/button",
    "drivers/input/evdev",
)
APPLETS = "sh mount insmod cat sleep uname poweroff acpid ls cut mkdir head grep printf chmod tr".split()


class GuestBuildError(Exception):
    pass


def _run(args, cwd=None):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise GuestBuildError("%s failed: %s" % (" ".join(args), (done.stderr or done.stdout).strip()[-500:]))
    return done.stdout


def kernel_package():
    """The versioned kernel package linux-image-amd64 depends on."""
    for attempt in (0, 1):
        try:
            out = _run(["apt-cache", "depends", "linux-image-amd64"])
        except (GuestBuildError, FileNotFoundError):
            out = ""
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Depends: linux-image-"):
                return line.split()[1]
        if attempt == 0 and os.geteuid() == 0:
            _run(["apt-get", "update", "-qq"])  # no package lists yet
    raise GuestBuildError(
        "cannot find the Debian kernel package (apt-cache depends linux-image-amd64 says nothing): run apt-get update"
    )


def missing_tools():
    return [tool for tool in ("apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip") if shutil.which(tool) is None]


def build(cache_root=None):
    """``(vmlinuz path, initrd path)``, building them on first use."""
    missing = missing_tools()
    if missing:
        raise GuestBuildError("the tiny guest needs %s: apt-get install cpio (and apt/dpkg)" % ", ".join(missing))
    cache_root = cache_root or os.environ.get("OBJSTORE_COMPUTE_GUEST_CACHE") or os.path.expanduser(
        "~/.cache/objstore-compute"
    )
    kpkg = kernel_package()
    out_dir = os.path.join(cache_root, "tiny-guest-" + kpkg)
    vmlinuz = os.path.join(out_dir, "vmlinuz")
    initrd = os.path.join(out_dir, "initrd.img")
    if os.path.exists(vmlinuz) and os.path.exists(initrd):
        return vmlinuz, initrd
    os.makedirs(cache_root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="guest-build-", dir=cache_root)
    try:
        _run(["apt-get", "download", "-q", kpkg, "busybox-static"], cwd=work)
        debs = os.listdir(work)
        kdeb = next(name for name in debs if name.startswith(kpkg + "_"))
        bdeb = next(name for name in debs if name.startswith("busybox-static_"))
        _run(["dpkg-deb", "-x", kdeb, "k"], cwd=work)
        _run(["dpkg-deb", "-x", bdeb, "bb"], cwd=work)
        boot = os.path.join(work, "k", "boot")
        kernel = next(name for name in os.listdir(boot) if name.startswith("vmlinuz-"))
        kver = kernel[len("vmlinuz-"):]
        mods = os.path.join(work, "k", "lib", "modules", kver, "kernel")
        root = os.path.join(work, "initrd")
        for sub in ("bin", "proc", "sys", "dev", "etc/acpi/PWRF", "lib/modules", "var/log"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        shutil.copy(os.path.join(work, "bb", "bin", "busybox"), os.path.join(root, "bin", "busybox"))
        for applet in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", applet))
        for mod in MODULES:
            shutil.copy(os.path.join(mods, mod + ".ko"), os.path.join(root, "lib", "modules"))
        with open(os.path.join(root, "init"), "w") as handle:
            handle.write(INIT)
        os.chmod(os.path.join(root, "init"), 0o755)
        subprocess.run(
            "find . | cpio -o -H newc 2>/dev/null | gzip -9 > ../initrd.img", shell=True, cwd=root, check=True
        )
        tmp_out = out_dir + ".tmp"
        shutil.rmtree(tmp_out, ignore_errors=True)
        os.makedirs(tmp_out)
        shutil.copy(os.path.join(boot, kernel), os.path.join(tmp_out, "vmlinuz"))
        shutil.copy(os.path.join(work, "initrd.img"), os.path.join(tmp_out, "initrd.img"))
        os.rename(tmp_out, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return vmlinuz, initrd


if __name__ == "__main__":
    print(build())
