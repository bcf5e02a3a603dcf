"""What the compute tests need from the machine, as checks that fail (never
skip) with what to install; and the test driver's node file. A plain module,
so other test packages import it instead of importing a conftest."""

import shutil

import pytest

NODE_XML = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
  <active>2</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>8388608</memory>
</node>
"""
INSTALL_LIBVIRT = (
    "libvirt-python is not installed: apt-get install libvirt-dev pkg-config, then "
    "pip install 'libvirt-python>=9.0' (make test does both)"
)


def need_libvirt():
    try:
        import libvirt  # noqa: F401
    except ImportError:
        pytest.fail(INSTALL_LIBVIRT, pytrace=False)


def need_qemu_img():
    if shutil.which("qemu-img") is None:
        pytest.fail("qemu-img is missing: apt-get install qemu-utils (make test does it)", pytrace=False)
