"""``Compute``: the Python API of the compute companion. The CLI (cli.py) and
the HTTP API (server.py) both call it; neither holds logic of its own.

Theory of operation:
- :class:`Host` is what every user shares on this machine: the config, the
  flavors, one :class:`~objstore.compute.driver.Hypervisor`, the SQLite
  records, the image cache and a lock per instance. :class:`Compute` is one
  user's view: their image store (objstore.client) and their account as
  ``owner``; instances of other owners are invisible (404).
- Every action first checks the state table (states.py) under the instance's
  lock, so a disallowed action is a 409 with a clear message and libvirt is
  never asked. The record is written after libvirt did the work.
- Boot: BUILDING record -> image (and kernel/ramdisk) fetched once into the
  cache -> qcow2 overlay per instance (or a blank disk for a kernel-only
  image) -> domain XML (the record as JSON in its metadata) -> define ->
  start -> ACTIVE. A failure after the record exists leaves it in ERROR with
  the reason in ``fault``; delete cleans it up.
- Image cache: a pass of :meth:`ImageCache.prune` runs after every boot and
  every delete (:meth:`Compute.cache_prune`; ``objstore-compute cache-prune``
  runs one by hand or from cron). The cache only grows when a boot fetches,
  and a base only becomes unused when an instance goes, so these two events
  bound the cache without a timer thread, which the one-shot CLI could not
  host anyway. A base's "last use" is its mtime: fetch/boot touch it, delete
  touches the deleted instance's bases, and each pass touches the bases that
  instances still use, so ``image_cache_max_age`` counts from the moment
  the last instance went.
- Restart: records live in SQLite and in each domain's metadata;
  :meth:`Compute.reconcile` (run at start, and by list/show) adopts domains
  whose row was lost and moves each record to the state libvirt's power state
  implies (states.RECONCILE).
"""

import datetime
import json
import os
import shutil
import threading
import time
import urllib.parse
import uuid

from objstore.common.exceptions import BadRequest, HypervisorError, InstanceNotFound, NotFound, ObjstoreError
from objstore.compute import states
from objstore.compute.config import find_flavor
from objstore.compute.domain import DomainSpec, domain_name, domain_xml, metadata_element
from objstore.compute.imagecache import (
    GIB,
    ImageCache,
    backing_file,
    cache_name,
    create_blank,
    create_overlay,
    flatten,
)
from objstore.compute.images import Image
from objstore.compute.records import Instance, InstanceRecords


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


SHUTDOWN_RETRY = 10.0  # seconds between ACPI presses (Nova's SHUTDOWN_RETRY_INTERVAL)


def account_of(storage_url):
    """The account name: the last segment of a storage URL (``AUTH_test``)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(storage_url).path.rstrip("/").rsplit("/", 1)[-1])


def instance_view(inst):
    """What show/list return for an instance (a JSON-able dict)."""
    return {
        "id": inst.id,
        "name": inst.name,
        "state": inst.state,
        "power_state": inst.power_state,
        "flavor": inst.flavor,
        "image": inst.image_id,
        "created": inst.created_at,
        "updated": inst.updated_at,
        "metadata": dict(inst.metadata),
        "addresses": {},  # user-mode NAT only: the guest has no address reachable from here
        "fault": inst.fault,
        "domain": inst.domain,
        "console_path": inst.console_path,
    }


def read_tail(path, max_bytes, lines=None):
    """The last ``lines`` lines (all when None) of a file, at most ``max_bytes``.

    :returns: text ("" when the file does not exist yet).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read(max_bytes)
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > max_bytes:
        text = text.split("\n", 1)[1] if "\n" in text else text  # drop the cut line
    if lines is not None:
        if lines <= 0:
            return ""
        kept = text.splitlines(keepends=True)[-lines:]
        text = "".join(kept)
    return text


class Host:
    """What every user's :class:`Compute` shares on this machine.

    :param config: :class:`objstore.compute.config.ComputeConfig`.
    :param flavors: ``{name: Flavor}``.
    :param hypervisor: a :class:`objstore.compute.driver.Hypervisor`.
    :param state_dir: records, cache, disks, consoles (defaults to the config's).
    """

    def __init__(self, config, flavors, hypervisor, state_dir=None, logger=None):
        self.config = config
        self.flavors = flavors
        self.hypervisor = hypervisor
        self.state_dir = os.path.abspath(state_dir or config.state_dir)
        if not self.state_dir:
            raise BadRequest("no state dir")
        os.makedirs(self.state_dir, exist_ok=True)
        self.records = InstanceRecords(os.path.join(self.state_dir, "compute.db"))
        self.cache = ImageCache(self.state_dir)
        self.instances_dir = os.path.join(self.state_dir, "instances")
        self.logger = logger
        self._locks = {}
        self._locks_lock = threading.Lock()

    def lock(self, instance_id):
        with self._locks_lock:
            return self._locks.setdefault(instance_id, threading.RLock())

    def close(self):
        self.records.close()
        self.hypervisor.close()


class Compute:
    """One user's compute API.

    :param host: the shared :class:`Host`.
    :param images: an :class:`objstore.compute.images.ImageStore`, or None
        (then only the operations that need no object store work).
    :param owner: the account the user's instances belong to (None: all, for
        the local operator).
    """

    def __init__(self, host, images=None, owner=None):
        self.host = host
        self.config = host.config
        self.hv = host.hypervisor
        self.records = host.records
        self._images = images
        self.owner = owner
        self._powers = {}  # instance id -> power state, as the last reconcile saw

    def close(self):
        """Close this user's object store connection (the Host stays open)."""
        if self._images is not None:
            self._images.conn.close()

    # --- flavors and images ----------------------------------------------------
    def flavor_list(self):
        return [flavor.as_dict() for flavor in self.host.flavors.values()]

    def flavor_show(self, name):
        return find_flavor(self.host.flavors, name).as_dict()

    @property
    def images(self):
        if self._images is None:
            raise BadRequest("this needs the object store: give --auth, --user and --key (or ST_AUTH/ST_USER/ST_KEY)")
        return self._images

    def image_upload(self, name, path=None, disk_format=None, kernel=None, ramdisk=None, cmdline=""):
        return self.images.upload(name, path, disk_format, kernel, ramdisk, cmdline).as_dict()

    def image_list(self):
        return [image.as_dict() for image in self.images.list()]

    def image_show(self, ref):
        return self.images.find(ref).as_dict()

    def image_delete(self, ref):
        """Delete an image (and the kernel/ramdisk uploaded with it); evicts it
        from the local cache unless an instance still boots from it.
        :returns: the deleted ids."""
        image = self.images.find(ref)
        deleted = self.images.delete(image.id)
        in_use = set()
        for inst in self.records.all():  # every owner's: the cache is shared
            in_use.update((inst.image_id, inst.kernel_id, inst.ramdisk_id))
        for image_id in deleted:
            if image_id not in in_use:  # an instance's overlay (or kernel) still needs it
                self.host.cache.evict(image_id)
        return deleted

    # --- lookups ---------------------------------------------------------------
    def _visible(self, inst):
        return self.owner is None or inst.owner == self.owner

    def _find(self, ref):
        inst = self.records.get(ref)
        if inst is not None and self._visible(inst):
            return inst
        named = [i for i in self.records.all(self.owner) if i.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise InstanceNotFound("%d instances are named %r; give an id" % (len(named), ref))
        raise InstanceNotFound("no instance %s" % ref)

    def _save(self, inst, state=None):
        if state is not None:
            inst.state = state
        inst.updated_at = _now()
        self.records.put(inst)
        return inst

    # --- boot ------------------------------------------------------------------
    def boot(self, name, flavor, image, metadata=None):
        """Create and start an instance.

        :returns: the instance's view (state ACTIVE).
        :raises FlavorNotFound, ImageNotFound, BadRequest: before anything is made.
        :raises ObjstoreError: a later failure; the instance is then in ERROR.
        """
        if not name:
            raise BadRequest("an instance needs a name")
        flavor = find_flavor(self.host.flavors, flavor)
        image = self.images.find(image)
        if image.disk_format in ("aki", "ari"):
            raise BadRequest("image %s is a %s part, not bootable by itself" % (image.id, image.disk_format))
        if image.disk_format == "none" and not image.kernel_id:
            raise BadRequest("image %s has neither a disk nor a kernel" % image.id)
        _check_metadata(metadata or {})
        instance_id = str(uuid.uuid4())
        inst_dir = os.path.join(self.host.instances_dir, instance_id)
        now = _now()
        inst = Instance(
            id=instance_id,
            name=name,
            owner=self.owner,
            state=states.BUILDING,
            flavor=flavor.as_dict(),
            image_id=image.id,
            domain=domain_name(instance_id),
            instance_dir=inst_dir,
            console_path=os.path.join(inst_dir, "console.log"),
            cmdline=image.cmdline or self.config.default_cmdline,
            kernel_id=image.kernel_id,
            ramdisk_id=image.ramdisk_id,
            metadata=dict(metadata or {}),
            created_at=now,
            updated_at=now,
        )
        with self.host.lock(instance_id):
            self.records.put(inst)
            try:
                self._build(inst, image, flavor)
            except ObjstoreError as err:
                inst.fault = str(err)
                self._save(inst, states.next_state(inst.state, "build_failed"))
                raise
            self._save(inst, states.next_state(inst.state, "build_done"))
            inst.power_state = states.RUNNING
        self._prune_quietly()
        return instance_view(inst)

    def _build(self, inst, image, flavor):
        os.makedirs(inst.instance_dir, exist_ok=True)
        cache = self.host.cache
        if inst.kernel_id:
            inst.kernel_path = cache.fetch(self.images, self.images.show(inst.kernel_id))
        if inst.ramdisk_id:
            inst.ramdisk_path = cache.fetch(self.images, self.images.show(inst.ramdisk_id))
        disk_bytes = flavor.disk_gib * GIB
        if image.disk_format in ("qcow2", "raw"):
            inst.disk_path = os.path.join(inst.instance_dir, "disk")
            with cache.using(self.images, image) as base:  # no prune until the overlay backs onto it
                create_overlay(base, image.disk_format, inst.disk_path, disk_bytes)
        elif disk_bytes:
            inst.disk_path = os.path.join(inst.instance_dir, "disk")
            create_blank(inst.disk_path, disk_bytes)
        self.hv.define(self._xml(inst))
        self.hv.start(inst.id)

    def _xml(self, inst):
        record = inst.durable()
        record["state"] = states.ACTIVE  # what a domain found running implies
        spec = DomainSpec(
            name=inst.domain,
            uuid=inst.id,
            virt_type=self.config.virt_type,
            vcpus=inst.flavor["vcpus"],
            ram_mib=inst.flavor["ram_mib"],
            console_path=inst.console_path,
            disk_path=inst.disk_path,
            kernel=inst.kernel_path,
            initrd=inst.ramdisk_path,
            cmdline=inst.cmdline if inst.kernel_path else "",
            machine=self.config.machine,
            tb_cache_mib=self.config.tb_cache_mib,
            metadata=metadata_element(record),
        )
        return domain_xml(spec)

    # --- inspection --------------------------------------------------------------
    def list(self):
        """Every visible instance (reconciled with libvirt first)."""
        self.reconcile()
        found = []
        for inst in self.records.all(self.owner):
            inst.power_state = self._powers.get(inst.id, states.MISSING)
            found.append(instance_view(inst))
        return found

    def show(self, ref):
        inst = self._find(ref)
        with self.host.lock(inst.id):
            inst = self._refresh(self.records.get(inst.id) or inst)
        return instance_view(inst)

    def _refresh(self, inst):
        power = self.hv.power_state(inst.id)
        inst.power_state = power
        new = states.reconciled(inst.state, power)
        if new != inst.state:
            if new == states.ERROR:
                inst.fault = "libvirt reports the domain %s" % power
            self._save(inst, new)
        return inst

    def reconcile(self):
        """Match the records with what libvirt reports.

        A domain with our metadata but no row is adopted; a row whose domain
        is gone goes to ERROR; other drifts follow states.RECONCILE.

        :returns: ``[(id, old state or None, new state)]`` for what changed.
        """
        changes = []
        known = {inst.id: inst for inst in self.records.all()}
        powers = self._powers = {}
        for dom_uuid, power, record in self.hv.ours():
            powers[dom_uuid] = power
            if dom_uuid in known:
                continue
            try:
                inst = Instance.from_dict(record)
            except TypeError:
                continue  # not a record we can read: leave that domain alone
            inst.id = dom_uuid
            inst.state = states.reconciled(record.get("state", states.ACTIVE), power)
            inst.power_state = power
            self._save(inst)
            changes.append((dom_uuid, None, inst.state))
        for inst in known.values():
            with self.host.lock(inst.id):
                current = self.records.get(inst.id)
                if current is None:
                    continue  # deleted meanwhile
                power = powers.get(inst.id, states.MISSING)
                new = states.reconciled(current.state, power)
                if new != current.state:
                    old = current.state
                    current.power_state = power
                    if new == states.ERROR:
                        current.fault = "libvirt reports the domain %s" % power
                    self._save(current, new)
                    changes.append((inst.id, old, new))
        return changes

    def console_log(self, ref, length=None):
        """The tail of the serial console: ``length`` lines (all when None),
        capped at ``console_log_max`` bytes."""
        inst = self._find(ref)
        states.next_state(inst.state, "console_log", "instance %s" % inst.id)
        if length is not None and length < 0:
            raise BadRequest("length must not be negative")
        return read_tail(inst.console_path, self.config.console_log_max, length)

    # --- lifecycle ---------------------------------------------------------------
    def _act(self, ref, action, work):
        inst = self._find(ref)
        with self.host.lock(inst.id):
            inst = self.records.get(inst.id)
            if inst is None:
                raise InstanceNotFound("no instance %s" % ref)
            new = states.next_state(inst.state, action, "instance %s" % inst.id)
            work(inst)
            inst.fault = "" if new != states.ERROR else inst.fault
            self._save(inst, new)
            inst.power_state = self.hv.power_state(inst.id)
        return instance_view(inst)

    def stop(self, ref, timeout=None):
        """Graceful ACPI shutdown; a hard stop after ``timeout`` seconds
        (default ``shutdown_timeout``) or at once when paused or in error."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout

        def work(inst):
            power = self.hv.power_state(inst.id)
            if power == states.RUNNING and inst.state == states.ACTIVE:
                if self._clean_shutdown(inst.id, timeout):
                    return
            if power == states.SAVED:
                self.hv.discard_managed_save(inst.id)
            self.hv.destroy(inst.id)

        return self._act(ref, "stop", work)

    def start(self, ref):
        return self._act(ref, "start", lambda inst: self.hv.start(inst.id))

    def pause(self, ref):
        return self._act(ref, "pause", lambda inst: self.hv.pause(inst.id))

    def unpause(self, ref):
        return self._act(ref, "unpause", lambda inst: self.hv.unpause(inst.id))

    def suspend(self, ref):
        return self._act(ref, "suspend", lambda inst: self.hv.managed_save(inst.id))

    def resume(self, ref):
        return self._act(ref, "resume", lambda inst: self.hv.start(inst.id))

    def reboot(self, ref, hard=False):
        """Soft: ACPI shutdown, wait ``soft_reboot_timeout``, start; falls back
        to hard. Hard: destroy, redefine from fresh XML, start."""
        if hard:
            return self._act(ref, "reboot_hard", self._hard_reboot)

        def soft(inst):
            if self._clean_shutdown(inst.id, self.config.soft_reboot_timeout):
                self.hv.start(inst.id)
            else:
                self._hard_reboot(inst)

        return self._act(ref, "reboot_soft", soft)

    def _clean_shutdown(self, instance_id, timeout):
        """ACPI power button, pressed again every ``SHUTDOWN_RETRY`` seconds
        (as Nova's _clean_shutdown: a guest that is still booting, or whose
        acpid has not started yet, drops the first press) until the domain is
        off or ``timeout`` passes. :returns: True when it went off."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.hv.shutdown(instance_id)
            except ObjstoreError:
                pass  # the guest cannot take ACPI now: wait, press again, or hard stop
            left = deadline - time.monotonic()
            if self.hv.wait_for(instance_id, (states.SHUTOFF, states.MISSING), max(0.0, min(SHUTDOWN_RETRY, left))):
                return True
            if time.monotonic() >= deadline:
                return False

    def _hard_reboot(self, inst):
        if self.hv.power_state(inst.id) != states.MISSING:
            self.hv.destroy(inst.id)
            self.hv.discard_managed_save(inst.id)
        self.hv.define(self._xml(inst))
        self.hv.start(inst.id)

    def delete(self, ref):
        """Destroy and undefine the domain; remove its disk, console and record."""
        inst = self._find(ref)
        with self.host.lock(inst.id):
            inst = self.records.get(inst.id)
            if inst is None:
                raise InstanceNotFound("no instance %s" % ref)
            states.next_state(inst.state, "delete", "instance %s" % inst.id)
            self.hv.undefine(inst.id)
            shutil.rmtree(inst.instance_dir, ignore_errors=True)
            self.records.delete(inst.id)
            self.host.cache.mark_used(_cache_names(inst, self.host.cache.dir, with_disk=False))
        self._prune_quietly()
        return {"id": inst.id, "state": states.DELETED}

    # --- image cache -------------------------------------------------------------
    def cache_prune(self, dry_run=False, max_age=None, now=None):
        """One pass of the image cache manager: remove the cached bases no
        instance (of any owner) uses that were last used ``max_age`` seconds
        ago or more, and the leftovers of interrupted fetches.

        :param max_age: seconds (default ``image_cache_max_age``; 0: do nothing).
        :returns: :meth:`ImageCache.prune`'s dict.
        :raises HypervisorError: libvirt could not list the domains (nothing
            is removed without knowing every instance).
        """
        max_age = self.config.image_cache_max_age if max_age is None else max_age
        if max_age < 0:
            raise BadRequest("the maximum age must not be negative")
        in_use = self._cache_in_use() if max_age > 0 else set()
        try:
            result = self.host.cache.prune(in_use, max_age, now=now, dry_run=dry_run)
        except OSError as err:  # e.g. EACCES on _base: one line, not a traceback
            raise HypervisorError("image cache prune failed: %s" % err) from None
        if self.host.logger is not None and not dry_run:
            for entry in result["removed"]:
                if entry["kind"] != "lock":
                    self.host.logger.info(
                        "image cache: removed %s %s (%d bytes)", entry["kind"], entry["file"], entry["bytes"]
                    )
        return result

    def _cache_in_use(self):
        """Cache names of every base an instance uses: from the records and
        from the record in each of our domains (a row lost from SQLite still
        protects its base)."""
        instances = {inst.id: inst for inst in self.records.all()}
        for dom_uuid, _power, record in self.hv.ours():
            if dom_uuid in instances:
                continue
            try:
                instances[dom_uuid] = Instance.from_dict(record)
            except TypeError:
                raise HypervisorError(
                    "domain %s holds a record that cannot be read: not pruning the image cache" % dom_uuid
                ) from None
        names = set()
        for inst in instances.values():
            names.update(_cache_names(inst, self.host.cache.dir))
        return names

    def _prune_quietly(self):
        """The automatic pass after a boot or a delete: never fails them."""
        if self.config.image_cache_max_age <= 0:
            return
        try:
            self.cache_prune()
        except ObjstoreError as err:
            if self.host.logger is not None:
                self.host.logger.warning("image cache prune failed: %s", err)

    # --- metadata ----------------------------------------------------------------
    def meta_set(self, ref, items):
        """Set metadata keys; stored in the record and the domain."""
        _check_metadata(items)

        def work(inst):
            inst.metadata.update(items)
            self._store_record_in_domain(inst)

        return self._act(ref, "meta", work)

    def meta_delete(self, ref, keys):
        """Delete metadata keys. :raises NotFound: a key that is not set."""

        def work(inst):
            missing = [key for key in keys if key not in inst.metadata]
            if missing:
                raise NotFound("instance %s has no metadata key %s" % (inst.id, ", ".join(missing)))
            for key in keys:
                del inst.metadata[key]
            self._store_record_in_domain(inst)

        return self._act(ref, "meta", work)

    def _store_record_in_domain(self, inst):
        record = inst.durable()
        record["state"] = states.ACTIVE
        self.hv.set_record(inst.id, json.dumps(record, sort_keys=True))

    # --- snapshot ----------------------------------------------------------------
    def snapshot(self, ref, name):
        """Copy the instance's disk into a new image in the object store.

        A running guest is paused for the copy (so the disk is consistent)
        and resumed after. The new image keeps the kernel, ramdisk and cmdline.

        :returns: the new image's dict.
        """
        if not name:
            raise BadRequest("a snapshot needs a name")
        inst = self._find(ref)
        with self.host.lock(inst.id):
            inst = self.records.get(inst.id)
            states.next_state(inst.state, "snapshot", "instance %s" % inst.id)
            if not inst.disk_path:
                raise BadRequest("instance %s has no disk to snapshot" % inst.id)
            tmp = os.path.join(inst.instance_dir, "snapshot.qcow2.part")
            paused = False
            try:
                if inst.state == states.ACTIVE and self.hv.power_state(inst.id) == states.RUNNING:
                    self.hv.pause(inst.id)
                    paused = True
                flatten(inst.disk_path, tmp)
            finally:
                if paused:
                    self.hv.unpause(inst.id)
            try:
                template = Image(
                    "",
                    "",
                    "qcow2",
                    kernel_id=inst.kernel_id,
                    ramdisk_id=inst.ramdisk_id,
                    cmdline=inst.cmdline if inst.kernel_id else "",
                )
                image = self.images.add_file(tmp, name, "qcow2", template)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return image.as_dict()


def _cache_names(inst, cache_dir, with_disk=True):
    """The cache names ``inst`` uses: its image, kernel and ramdisk ids, and
    the files its kernel, ramdisk and (``with_disk``) disk overlay point to
    when they are in ``cache_dir``."""
    names = {cache_name(image_id) for image_id in (inst.image_id, inst.kernel_id, inst.ramdisk_id) if image_id}
    paths = [inst.kernel_path, inst.ramdisk_path]
    if with_disk and inst.disk_path and os.path.exists(inst.disk_path):
        try:
            paths.append(backing_file(inst.disk_path))
        except OSError:
            pass  # unreadable overlay: its image id above still protects the base
    cache_dir = os.path.realpath(cache_dir)
    for path in paths:
        if path and os.path.dirname(os.path.realpath(path)) == cache_dir:
            names.add(os.path.basename(os.path.realpath(path)))
    return names


def _check_metadata(items):
    """Nova's limits: string keys 1-255 chars, string values up to 255."""
    if not isinstance(items, dict):
        raise BadRequest("metadata must be a mapping of strings")
    for key, value in items.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise BadRequest("metadata keys must be 1-255 characters")
        if not isinstance(value, str) or len(value) > 255:
            raise BadRequest("metadata value of %r must be a string of at most 255 characters" % key)
