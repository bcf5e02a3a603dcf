"""Images kept in the object store: one object per image in the container
``images`` of the user's account, its properties (name, disk format, kernel
and ramdisk ids, kernel cmdline, checksum, size) as object metadata.

What lives here: the :class:`Image` record and its header mapping, the checks
that a file is what it claims (qcow2 or raw disk, Linux kernel, initramfs),
and :class:`ImageStore`, which uploads/lists/shows/deletes/downloads through
objstore.client. What does not: the local cache and qemu-img (imagecache.py).

Disk formats: ``qcow2`` and ``raw`` disks; ``aki``/``ari`` for a kernel and an
initramfs (EC2's names, as Glance uses); ``none`` for an image that is only a
kernel+initramfs pair (the instance then gets a blank disk of its flavor).
"""

import dataclasses
import datetime
import hashlib
import os
import urllib.parse
import uuid

from objstore.common.exceptions import ClientError, ImageNotFound, InvalidImage

DISK_FORMATS = ("qcow2", "raw")
ALL_FORMATS = DISK_FORMATS + ("aki", "ari", "none")
META = "x-object-meta-"
SECTOR = 512

# Magic numbers of disk formats we refuse, so a vmdk is not booted as "raw".
_OTHER_DISKS = (
    (0, b"KDMV", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk descriptor"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"conectix", "vhd"),
    (0, b"QED\x00", "qed"),
    (64, b"\x7f\x10\xda\xbe", "vdi"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"PK\x03\x04", "zip archive"),
    (0, b"\xfd7zXZ\x00", "xz archive"),
)
_RAMDISK_MAGIC = (b"\x1f\x8b", b"070701", b"070702", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x02\x21\x4c\x18", b"BZh")


@dataclasses.dataclass(frozen=True)
class Image:
    id: str
    name: str
    disk_format: str
    size: int = 0
    checksum: str = ""
    kernel_id: str = ""
    ramdisk_id: str = ""
    cmdline: str = ""
    parent_id: str = ""  # a kernel/ramdisk uploaded along with (and deleted with) this image
    created_at: str = ""

    def as_dict(self):
        return dataclasses.asdict(self)


# property name -> header suffix
_PROPS = {
    "name": "name",
    "disk_format": "disk-format",
    "checksum": "checksum",
    "kernel_id": "kernel-id",
    "ramdisk_id": "ramdisk-id",
    "cmdline": "cmdline",
    "parent_id": "parent-id",
    "created_at": "created-at",
}


def image_headers(image):
    """The object headers that carry ``image``'s properties (values %-quoted)."""
    headers = {}
    for prop, suffix in _PROPS.items():
        value = getattr(image, prop)
        if value:
            headers["X-Object-Meta-" + suffix.title()] = urllib.parse.quote(str(value), safe=" /=:,.-_@+")
    return headers


def image_from_headers(image_id, headers):
    """The :class:`Image` an object's HEAD (lower-case keys) describes."""
    values = {}
    for prop, suffix in _PROPS.items():
        raw = headers.get(META + suffix)
        if raw is not None:
            values[prop] = urllib.parse.unquote(raw)
    return Image(
        id=image_id,
        name=values.pop("name", image_id),
        disk_format=values.pop("disk_format", "raw"),
        size=int(headers.get("content-length") or 0),
        **values,
    )


def detect_disk_format(head, size):
    """``"qcow2"`` or ``"raw"`` for a file starting with ``head`` of ``size`` bytes.

    :raises InvalidImage: empty, another disk/archive format, or not a whole
        number of 512-byte sectors (so a text file is not taken for a disk).
    """
    if size == 0:
        raise InvalidImage("the image file is empty")
    if head[:4] == b"QFI\xfb":
        return "qcow2"
    for offset, magic, kind in _OTHER_DISKS:
        if head[offset : offset + len(magic)] == magic:
            raise InvalidImage("the file is a %s, not a qcow2 or raw disk image" % kind)
    if size % SECTOR:
        raise InvalidImage(
            "not a qcow2 or raw disk image: %d bytes is not a whole number of %d-byte sectors" % (size, SECTOR)
        )
    return "raw"


def check_disk_format(claimed, head, size):
    """The disk format of a file, checked against ``claimed`` (None: detect).

    :raises InvalidImage: see :func:`detect_disk_format`, or the claim is wrong.
    """
    if claimed is not None and claimed not in DISK_FORMATS:
        raise InvalidImage("disk format must be qcow2 or raw, not %r" % claimed)
    found = detect_disk_format(head, size)
    if claimed is not None and claimed != found:
        raise InvalidImage("the file is %s, not %s" % (found, claimed))
    return found


def check_kernel(head):
    """:raises InvalidImage: unless ``head`` (>= 0x206 bytes) is an x86 Linux bzImage."""
    if head[0x202:0x206] != b"HdrS":
        raise InvalidImage("the kernel file is not a Linux kernel (no bzImage header)")


def check_ramdisk(head):
    """:raises InvalidImage: unless ``head`` is a compressed or cpio initramfs."""
    if not any(head.startswith(magic) for magic in _RAMDISK_MAGIC):
        raise InvalidImage("the ramdisk file is not an initramfs (cpio, gzip, xz, zstd, lz4 or bzip2)")


def _file_facts(path):
    """``(head bytes, size, md5 hex)`` of a local file.

    :raises InvalidImage: the file cannot be read.
    """
    try:
        size = os.path.getsize(path)
        md5 = hashlib.md5()
        with open(path, "rb") as handle:
            head = handle.read(4096)
            md5.update(head)
            for block in iter(lambda: handle.read(1 << 20), b""):
                md5.update(block)
    except OSError as err:
        raise InvalidImage("cannot read %s: %s" % (path, err.strerror)) from None
    return head, size, md5.hexdigest()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageStore:
    """Images of one user, through an :class:`objstore.client.Connection`."""

    def __init__(self, conn, container="images"):
        self.conn = conn
        self.container = container
        self._container_ok = False

    def _ensure_container(self):
        if not self._container_ok:
            self.conn.put_container(self.container)
            self._container_ok = True

    def _put(self, path, image):
        self._ensure_container()
        headers = image_headers(image)
        headers["ETag"] = image.checksum  # the store checks the bytes in transit
        with open(path, "rb") as handle:
            self.conn.put_object(
                self.container,
                image.id,
                handle,
                content_length=image.size,
                content_type="application/octet-stream",
                headers=headers,
            )
        return image

    def upload_one(
        self, name, path=None, disk_format=None, kernel_id="", ramdisk_id="", cmdline="", parent_id="", image_id=None
    ):
        """Upload one image object after checking the file fits its format.

        :param disk_format: ``qcow2``/``raw`` (None: detect), ``aki`` (a
            kernel), ``ari`` (an initramfs) or ``none`` (no file: a
            kernel+ramdisk image; ``kernel_id`` is then required).
        :returns: the :class:`Image`.
        :raises InvalidImage: a file that is not what it should be, or a
            kernel/ramdisk id that is not such an image.
        """
        if not name:
            raise InvalidImage("an image needs a name")
        if disk_format not in (None,) + ALL_FORMATS:
            raise InvalidImage("disk format must be one of %s, not %r" % (", ".join(ALL_FORMATS), disk_format))
        for ref, kind in ((kernel_id, "aki"), (ramdisk_id, "ari")):
            if ref:
                try:
                    part = self.show(ref)
                except ImageNotFound:
                    raise InvalidImage("no %s image %s" % (kind, ref)) from None
                if part.disk_format != kind:
                    raise InvalidImage("image %s is %s, not %s" % (ref, part.disk_format, kind))
        if ramdisk_id and not kernel_id:
            raise InvalidImage("a ramdisk needs a kernel")
        if disk_format == "none" or (path is None and disk_format is None):
            if path is not None:
                raise InvalidImage("disk format none takes no file")
            if not kernel_id:
                raise InvalidImage("an image without a disk needs a kernel")
            image = Image(image_id or str(uuid.uuid4()), name, "none", 0, hashlib.md5(b"").hexdigest(), kernel_id,
                          ramdisk_id, cmdline or "", parent_id, _now())
            self._ensure_container()
            self.conn.put_object(self.container, image.id, b"", headers=image_headers(image))
            return image
        if path is None:
            raise InvalidImage("disk format %s needs a file" % disk_format)
        head, size, md5 = _file_facts(path)
        if disk_format == "aki":
            check_kernel(head)
        elif disk_format == "ari":
            check_ramdisk(head)
        else:
            disk_format = check_disk_format(disk_format, head, size)
        image = Image(image_id or str(uuid.uuid4()), name, disk_format, size, md5, kernel_id, ramdisk_id,
                      cmdline or "", parent_id, _now())
        return self._put(path, image)

    def upload(self, name, path=None, disk_format=None, kernel_path=None, ramdisk_path=None, cmdline=""):
        """Upload a disk image, or a kernel+initramfs pair, or both.

        With ``kernel_path``/``ramdisk_path`` each becomes its own image
        (``aki``/``ari``, named ``<name>-kernel``/``<name>-ramdisk``, deleted
        with the image) and the returned image points at them; without
        ``path`` it has format ``none``. Every file is checked before any
        upload starts.

        :returns: the bootable :class:`Image`.
        :raises InvalidImage: a file that is not what it should be.
        :raises ClientError: the object store refused or is unreachable.
        """
        if not name:
            raise InvalidImage("an image needs a name")
        if ramdisk_path and not kernel_path:
            raise InvalidImage("a ramdisk needs a kernel")
        if not path and not kernel_path:
            raise InvalidImage("give a disk image file, or --kernel (and --ramdisk)")
        if path:
            head, size, _ = _file_facts(path)
            check_disk_format(disk_format, head, size)
        elif disk_format not in (None, "none"):
            raise InvalidImage("--disk-format needs a disk image file")
        if kernel_path:
            check_kernel(_file_facts(kernel_path)[0])
        if ramdisk_path:
            check_ramdisk(_file_facts(ramdisk_path)[0])
        parent = str(uuid.uuid4())  # the parts point at the image that owns them
        kernel_id = ramdisk_id = ""
        if kernel_path:
            kernel_id = self.upload_one(name + "-kernel", kernel_path, "aki", parent_id=parent).id
        if ramdisk_path:
            ramdisk_id = self.upload_one(name + "-ramdisk", ramdisk_path, "ari", parent_id=parent).id
        return self.upload_one(
            name, path, disk_format if path else "none", kernel_id, ramdisk_id, cmdline, image_id=parent
        )

    def add_file(self, path, name, disk_format, template=None):
        """Upload ``path`` as a new image (a snapshot), copying boot properties.

        :param template: an :class:`Image` whose kernel, ramdisk and cmdline
            the new image keeps (a snapshot boots as its source did).
        """
        head, size, md5 = _file_facts(path)
        check_disk_format(disk_format, head, size)
        image = Image(
            str(uuid.uuid4()),
            name,
            disk_format,
            size,
            md5,
            template.kernel_id if template else "",
            template.ramdisk_id if template else "",
            template.cmdline if template else "",
            created_at=_now(),
        )
        return self._put(path, image)

    def show(self, image_id):
        """:raises ImageNotFound: no such image in this account."""
        try:
            headers = self.conn.head_object(self.container, image_id)
        except ClientError as err:
            if err.http_status == 404:
                raise ImageNotFound("no image %s" % image_id) from None
            raise
        return image_from_headers(image_id, headers)

    def list(self):
        """Every image of the account (sorted by name, then id)."""
        try:
            _, rows = self.conn.get_container(self.container, full_listing=True)
        except ClientError as err:
            if err.http_status == 404:
                return []
            raise
        images = []
        for row in rows:
            if "name" not in row:
                continue
            try:
                images.append(self.show(row["name"]))
            except ImageNotFound:
                continue  # deleted between the listing and the HEAD
        return sorted(images, key=lambda image: (image.name, image.id))

    def find(self, ref):
        """An image by id, or by name when exactly one has it.

        :raises ImageNotFound: no match, or the name is ambiguous.
        """
        try:
            return self.show(ref)
        except ImageNotFound:
            pass
        named = [image for image in self.list() if image.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise ImageNotFound("%d images are named %r; give an id" % (len(named), ref))
        raise ImageNotFound("no image %s" % ref)

    def delete(self, image_id):
        """Delete an image and the kernel/ramdisk uploaded with it.

        :returns: the ids deleted.
        """
        image = self.show(image_id)
        deleted = []
        for part in (image.kernel_id, image.ramdisk_id):
            if part:
                try:
                    if self.show(part).parent_id == image.id:
                        self.conn.delete_object(self.container, part)
                        deleted.append(part)
                except ImageNotFound:
                    pass
        try:
            self.conn.delete_object(self.container, image.id)
        except ClientError as err:
            if err.http_status != 404:
                raise
        deleted.append(image.id)
        return deleted

    def download(self, image, fileobj):
        """Stream ``image``'s bytes into ``fileobj``. :returns: bytes written."""
        try:
            return self.conn.download_object(self.container, image.id, fileobj)[1]
        except ClientError as err:
            if err.http_status == 404:
                raise ImageNotFound("no image %s" % image.id) from None
            raise
