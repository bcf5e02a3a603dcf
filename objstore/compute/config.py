"""Settings of the compute companion: the ``[compute]`` section (libvirt URI,
virt_type, state dir, timeouts), the ``[compute-api]`` section of the HTTP
API, and flavors (``[flavor:NAME]`` sections, else the defaults below).

Only parsing and defaults here: nothing connects to libvirt or the object
store.
"""

import dataclasses
import os

from objstore.common.config import build, option, read_ini, section_from
from objstore.common.exceptions import ConfigError, FlavorNotFound
from objstore.web.server import ServerConfig

VIRT_TYPES = ("qemu", "kvm", "xen", "lxc", "vbox")


@dataclasses.dataclass(frozen=True)
class ComputeConfig:
    """The ``[compute]`` section."""

    connection_uri: str = option(
        "qemu:///system",
        "libvirt URI (qemu:///system, qemu:///embed?root=DIR, xen:///system, vbox:///session, test:///PATH)",
    )
    virt_type: str = option(
        "qemu", "domain type: qemu (TCG), kvm, xen, lxc or vbox; never guessed from /dev/kvm"
    )
    state_dir: str = option("", "records, image cache, disks and consoles (empty: the CLI's --state-dir)")
    image_container: str = option("images", "container of the user's account that holds images")
    shutdown_timeout: float = option(60.0, "seconds to wait for an ACPI shutdown before a hard stop")
    soft_reboot_timeout: float = option(60.0, "seconds a soft reboot waits for shutoff before going hard")
    console_log_max: int = option(102400, "most bytes of console log returned (Nova caps at 100 KiB)")
    default_cmdline: str = option("console=ttyS0 panic=-1", "kernel command line when an image gives none")
    machine: str = option("", "machine type for qemu/kvm (empty: the hypervisor's default)")
    tb_cache_mib: int = option(0, "TCG translation cache size in MiB (0: QEMU's default)")
    objstore_timeout: float = option(60.0, "seconds per object store request")
    image_cache_max_age: int = option(
        86400,
        "seconds an image cache base no instance uses is kept after its last use (0: never prune)",
    )

    def validate(self):
        if self.virt_type not in VIRT_TYPES:
            raise ValueError("virt_type must be one of %s, not %r" % (", ".join(VIRT_TYPES), self.virt_type))
        if self.shutdown_timeout < 0 or self.soft_reboot_timeout < 0:
            raise ValueError("timeouts must not be negative")
        if self.image_cache_max_age < 0:
            raise ValueError("image_cache_max_age must not be negative (0 disables pruning)")


@dataclasses.dataclass(frozen=True)
class ComputeApiConfig(ServerConfig):
    """The ``[compute-api]`` section (plus every server option)."""

    bind_port: int = option(8774, "port to listen on (0: pick a free one)")
    workers: int = option(0, "keep 0: one process owns the libvirt connection and the records")
    objstore_url: str = option(
        "http://127.0.0.1:8080", "the object store's proxy; X-Storage-Url must be under <this>/v1/"
    )
    token_cache_seconds: float = option(30.0, "how long a token the object store accepted is trusted")


@dataclasses.dataclass(frozen=True)
class Flavor:
    """A machine size. ``disk_gib`` 0 means the image's own size."""

    name: str = option("", "flavor name")
    vcpus: int = option(1, "virtual CPUs")
    ram_mib: int = option(256, "memory in MiB")
    disk_gib: int = option(1, "root disk in GiB (0: the image's size)")

    def validate(self):
        if self.vcpus < 1 or self.ram_mib < 16 or self.disk_gib < 0:
            raise ValueError("flavor %s: need vcpus >= 1, ram_mib >= 16, disk_gib >= 0" % self.name)

    def as_dict(self):
        return dataclasses.asdict(self)


DEFAULT_FLAVORS = (
    Flavor("m1.tiny", 1, 256, 1),
    Flavor("m1.small", 1, 2048, 20),
    Flavor("m1.medium", 2, 4096, 40),
    Flavor("m1.large", 4, 8192, 80),
)


def flavors_from(sections, path="<dict>"):
    """Flavors from ``[flavor:NAME]`` sections; the defaults when there are none.

    :returns: ``{name: Flavor}`` in definition order.
    """
    found = {}
    for section, values in sections.items():
        if section.startswith("flavor:"):
            name = section.split(":", 1)[1].strip()
            found[name] = build(Flavor, dict(values, name=name), path, section)
    if not found:
        found = {flavor.name: flavor for flavor in DEFAULT_FLAVORS}
    return found


def find_flavor(flavors, name):
    """:raises FlavorNotFound: with the known names in the message."""
    try:
        return flavors[name]
    except KeyError:
        raise FlavorNotFound("no flavor %r (known: %s)" % (name, ", ".join(flavors))) from None


def load(path=None, overrides=None):
    """``(ComputeConfig, {name: Flavor}, sections)`` from an INI file (or defaults).

    :param overrides: ``{option: value}`` applied over the file (CLI flags).
    """
    sections = read_ini(path) if path else {}
    config = section_from(sections, path or "<defaults>", "compute", ComputeConfig)
    if overrides:
        try:
            config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
            config.validate()
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return config, flavors_from(sections, path or "<defaults>"), sections


def default_state_dir(environ=None):
    """``$OBJSTORE_COMPUTE_STATE``, else the user's data dir (XDG)."""
    environ = os.environ if environ is None else environ
    if environ.get("OBJSTORE_COMPUTE_STATE"):
        return environ["OBJSTORE_COMPUTE_STATE"]
    base = environ.get("XDG_DATA_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "objstore-compute")
