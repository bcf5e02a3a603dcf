"""The libvirt driver: the ONLY module that imports libvirt.

:class:`Hypervisor` wraps one ``virConnect`` (opened lazily from the
configured URI) and offers the domain operations the manager needs, by
instance UUID (the domain's UUID). Every ``libvirtError`` is translated here,
at the edge, into a domain exception carrying its HTTP status:
no domain -> InstanceNotFound (404), an operation invalid in the domain's
current state -> InvalidInstanceState (409), no connection ->
HypervisorUnavailable (503), anything else -> HypervisorError (500) with
libvirt's one-line message. Callers never see a libvirt traceback.

Nothing here knows about images, records or allowed transitions.

The daemonless ``qemu:///embed?root=DIR`` mode needs an event loop running in
this process (COMPUTE-NOTES §3.4); it is registered once per process, before
the first connection, and run by a starter the caller may inject (a real OS
thread by default; the HTTP API, which is monkey-patched by eventlet, hands
one that uses a native thread pool).
"""

import contextlib
import os
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import libvirt

from objstore.common.exceptions import (
    HypervisorError,
    HypervisorUnavailable,
    InstanceNotFound,
    InvalidInstanceState,
)
from objstore.compute import states
from objstore.compute.domain import META_TAG, NAMESPACE, NS_PREFIX, record_from_domain_xml

_loop_lock = threading.Lock()
_loop_started = []  # one entry once this process runs libvirt's event loop


def _quiet(_ctx, _err):
    """libvirt prints every error to stderr by default; the exceptions suffice."""


def _run_event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def _thread_starter(target):
    threading.Thread(target=target, name="libvirt-events", daemon=True).start()


def ensure_event_loop(starter=None):
    """Register libvirt's default event loop and run it (once per process)."""
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        (starter or _thread_starter)(_run_event_loop)
        _loop_started.append(True)


def needs_event_loop(uri):
    return uri.startswith("qemu:///embed")


# COMPUTE-NOTES §3.4: without stdio_handler=file every start needs virtlogd;
# without user/group root (when we are root) libvirt re-probes QEMU at every
# create (45 s) and a second process kills guests it finds on reattach.
EMBED_QEMU_CONF = 'stdio_handler = "file"\nuser = "root"\ngroup = "root"\n'


def prepare_embed_root(uri):
    """Write ``<root>/etc/qemu.conf`` for a ``qemu:///embed?root=DIR`` URI
    when it has none (only as root, whose settings these are)."""
    query = urllib.parse.urlsplit(uri).query
    root = urllib.parse.parse_qs(query).get("root", [""])[0]
    if not root or os.geteuid() != 0:
        return
    path = os.path.join(root, "etc", "qemu.conf")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(EMBED_QEMU_CONF)


_NOT_FOUND = {libvirt.VIR_ERR_NO_DOMAIN}
_INVALID = {libvirt.VIR_ERR_OPERATION_INVALID}
_UNAVAILABLE = {
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
    libvirt.VIR_ERR_RPC,
    getattr(libvirt, "VIR_ERR_SYSTEM_ERROR", 38),
}


def _one_line(err):
    text = err.get_error_message() or str(err)
    return text.strip().splitlines()[0] if text.strip() else "libvirt error %s" % err.get_error_code()


@contextlib.contextmanager
def translated(what):
    """Turn a ``libvirtError`` raised inside into a domain exception."""
    try:
        yield
    except libvirt.libvirtError as err:
        code = err.get_error_code()
        message = "%s: %s" % (what, _one_line(err))
        if code in _NOT_FOUND:
            raise InstanceNotFound(message) from None
        if code in _INVALID:
            raise InvalidInstanceState(message) from None
        if code in _UNAVAILABLE:
            raise HypervisorUnavailable(message) from None
        raise HypervisorError(message) from None


def _power_off(dom):
    """``destroy()`` unless already off; a guest that powers itself off
    between the check and the call (an ACPI event it took late) is fine."""
    if not dom.isActive():
        return
    try:
        dom.destroy()
    except libvirt.libvirtError:
        if dom.isActive():
            raise


_POWER = {
    libvirt.VIR_DOMAIN_NOSTATE: states.RUNNING,
    libvirt.VIR_DOMAIN_RUNNING: states.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: states.RUNNING,
    libvirt.VIR_DOMAIN_SHUTDOWN: states.RUNNING,  # shutting down, still running
    libvirt.VIR_DOMAIN_PAUSED: states.POWER_PAUSED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: states.POWER_PAUSED,
    libvirt.VIR_DOMAIN_SHUTOFF: states.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: states.CRASHED,
}


class Hypervisor:
    """One libvirt connection.

    :param uri: e.g. ``qemu:///system``, ``qemu:///embed?root=/tmp/e``,
        ``test:///abs/path/node.xml``.
    :param loop_starter: ``callable(target)`` that runs ``target`` forever in a
        native thread (only used for URIs that need an event loop).
    """

    def __init__(self, uri, loop_starter=None):
        self.uri = uri
        self.loop_starter = loop_starter
        self._conn = None
        self._lock = threading.Lock()

    # --- connection ------------------------------------------------------------
    def conn(self):
        with self._lock:
            if self._conn is None:
                libvirt.registerErrorHandler(_quiet, None)
                if needs_event_loop(self.uri):
                    prepare_embed_root(self.uri)
                    ensure_event_loop(self.loop_starter)
                try:
                    self._conn = libvirt.open(self.uri)
                except libvirt.libvirtError as err:
                    raise HypervisorUnavailable(
                        "cannot connect to libvirt at %s: %s" % (self.uri, _one_line(err))
                    ) from None
            return self._conn

    def close(self):
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except libvirt.libvirtError:
                    pass
                self._conn = None

    def describe(self):
        """``{"uri", "type", "version", "libvirt_version"}`` of the connection."""
        conn = self.conn()
        with translated("describe %s" % self.uri):
            return {
                "uri": conn.getURI(),
                "type": conn.getType(),
                "version": conn.getVersion(),
                "libvirt_version": conn.getLibVersion(),
            }

    def _dom(self, uuid):
        conn = self.conn()
        with translated("instance %s" % uuid):
            return conn.lookupByUUIDString(uuid)

    # --- lifecycle ---------------------------------------------------------------
    def define(self, xml):
        """Define (or redefine) a persistent domain from ``xml``."""
        conn = self.conn()
        with translated("define domain"):
            conn.defineXML(xml)

    def start(self, uuid):
        """Start a shut-off domain (restoring its managed-save image if any)."""
        dom = self._dom(uuid)
        with translated("start %s" % uuid):
            dom.create()

    def shutdown(self, uuid):
        """Ask the guest to power off (ACPI); returns at once."""
        dom = self._dom(uuid)
        with translated("shutdown %s" % uuid):
            dom.shutdown()

    def destroy(self, uuid):
        """Hard power-off; a domain already off is fine."""
        dom = self._dom(uuid)
        with translated("destroy %s" % uuid):
            _power_off(dom)

    def pause(self, uuid):
        dom = self._dom(uuid)
        with translated("pause %s" % uuid):
            dom.suspend()

    def unpause(self, uuid):
        dom = self._dom(uuid)
        with translated("unpause %s" % uuid):
            dom.resume()

    def managed_save(self, uuid):
        """Save the memory state to disk and stop (Nova's suspend)."""
        dom = self._dom(uuid)
        with translated("suspend %s" % uuid):
            dom.managedSave(0)

    def discard_managed_save(self, uuid):
        dom = self._dom(uuid)
        with translated("discard saved state of %s" % uuid):
            if dom.hasManagedSaveImage(0):
                dom.managedSaveRemove(0)

    def undefine(self, uuid):
        """Destroy if running and forget the domain with its saved state and snapshots."""
        try:
            dom = self._dom(uuid)
        except InstanceNotFound:
            return
        with translated("undefine %s" % uuid):
            _power_off(dom)
            flags = (
                libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
            )
            try:
                dom.undefineFlags(flags)
            except libvirt.libvirtError as err:
                if err.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
                    raise
                if dom.hasManagedSaveImage(0):
                    dom.managedSaveRemove(0)
                dom.undefine()

    def power_state(self, uuid):
        """One of ``states.POWER_STATES`` (``missing`` when not defined)."""
        try:
            dom = self._dom(uuid)
        except InstanceNotFound:
            return states.MISSING
        try:
            with translated("state of %s" % uuid):
                state, _reason = dom.state(0)
                power = _POWER.get(state, states.RUNNING)
                if power == states.SHUTOFF and dom.hasManagedSaveImage(0):
                    power = states.SAVED
                return power
        except InstanceNotFound:
            return states.MISSING

    def wait_for(self, uuid, wanted, timeout, interval=0.2):
        """Poll until the power state is in ``wanted``; True if it got there."""
        deadline = time.monotonic() + timeout
        while True:
            if self.power_state(uuid) in wanted:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    # --- metadata and inspection -------------------------------------------------
    def set_record(self, uuid, record_json):
        """Store our record (JSON text) in the domain's ``<metadata>``."""
        dom = self._dom(uuid)
        elem = ET.Element(META_TAG)
        elem.text = record_json
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        with translated("set metadata of %s" % uuid):
            if dom.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            dom.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT, ET.tostring(elem, encoding="unicode"), NS_PREFIX, NAMESPACE, flags
            )

    def xml_desc(self, uuid):
        dom = self._dom(uuid)
        with translated("describe %s" % uuid):
            return dom.XMLDesc(0)

    def ours(self):
        """Every domain holding our record: ``[(uuid, power_state, record dict)]``."""
        conn = self.conn()
        found = []
        with translated("list domains"):
            domains = conn.listAllDomains(0)
        for dom in domains:
            try:
                with translated("describe domain"):
                    record = record_from_domain_xml(dom.XMLDesc(0))
                    uuid = dom.UUIDString()
            except InstanceNotFound:
                continue  # vanished while we looked (a transient domain stopping)
            if record is not None:
                found.append((uuid, self.power_state(uuid), record))
        return found
