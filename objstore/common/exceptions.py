"""The exception tree. Every class carries the HTTP status a server boundary
answers with, so the mapping is one attribute lookup, not a chain of isinstance.

No I/O and no imports of other objstore modules live here.
"""


class ObjstoreError(Exception):
    """Base of every domain error. ``status`` is the HTTP answer for it."""

    status = 500

    def __init__(self, message="", *, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


# --- configuration and setup -------------------------------------------------
class ConfigError(ObjstoreError):
    """A config file is missing, malformed, or holds a bad value."""


class RingError(ObjstoreError):
    """A ring or builder file is corrupt, or a ring operation is impossible."""

    status = 503


class RingValidationError(RingError):
    pass


class RingBuilderError(RingError):
    """An operator asked the builder for something it cannot do."""

    status = 400


# --- requests ------------------------------------------------------------------
class BadRequest(ObjstoreError):
    status = 400


class Unauthorized(ObjstoreError):
    status = 401


class Forbidden(ObjstoreError):
    status = 403


class NotFound(ObjstoreError):
    status = 404


class MethodNotAllowed(ObjstoreError):
    status = 405


class Conflict(ObjstoreError):
    status = 409


class LengthRequired(ObjstoreError):
    status = 411


class PreconditionFailed(ObjstoreError):
    status = 412


class RequestEntityTooLarge(ObjstoreError):
    status = 413


class UnprocessableEntity(ObjstoreError):
    status = 422


class ClientDisconnect(ObjstoreError):
    """The client stopped sending before the body was complete (logged as 499)."""

    status = 499


class ClientTimeout(ObjstoreError):
    status = 408


class ServiceUnavailable(ObjstoreError):
    status = 503


class InsufficientStorage(ObjstoreError):
    status = 507


# --- storage -------------------------------------------------------------------
class DiskFileError(ObjstoreError):
    status = 500


class DiskFileNotFound(DiskFileError):
    status = 404


class DiskFileDeleted(DiskFileNotFound):
    """A tombstone is the newest file; ``timestamp`` says when it was written."""

    def __init__(self, message="", timestamp=None, metadata=None):
        super().__init__(message)
        self.timestamp = timestamp
        self.metadata = metadata or {}


class DiskFileExpired(DiskFileNotFound):
    def __init__(self, message="", metadata=None):
        super().__init__(message)
        self.metadata = metadata or {}


class DiskFileQuarantined(DiskFileNotFound):
    """The object failed a check and was moved to quarantine."""


class DiskFileCollision(DiskFileError):
    """The hash directory holds an object of another name."""


class DiskFileNoSpace(InsufficientStorage):
    pass


class DiskFileDeviceUnavailable(InsufficientStorage):
    pass


class DiskFileXattrError(DiskFileError):
    pass


class DatabaseError(ObjstoreError):
    status = 500


class DatabaseNotFound(DatabaseError):
    status = 404


class DatabaseAlreadyExists(DatabaseError):
    status = 409


class DatabaseCorrupt(DatabaseError):
    status = 500


class TimestampConflict(Conflict):
    """An older write arrived after a newer one."""


class ConnectionTimeout(ObjstoreError):
    status = 503


class BackendError(ObjstoreError):
    """A backend node answered badly or not at all."""

    status = 503


class InvalidTimestamp(BadRequest):
    pass


class ConstraintError(BadRequest):
    pass


# --- the Swift API client (objstore.client) and the compute companion ----------
class ClientError(ObjstoreError):
    """The object store answered a client's request with an error, or not at all.

    ``http_status`` is what it answered (0 when there was no answer);
    ``status`` follows it for 4xx/5xx and is 502 otherwise.
    """

    def __init__(self, message="", *, http_status=0, http_reason="", body=b"", headers=None):
        super().__init__(message, status=http_status if 400 <= http_status < 600 else 502)
        self.http_status = http_status
        self.http_reason = http_reason
        self.body = body
        self.headers = headers or {}


class InstanceNotFound(NotFound):
    pass


class ImageNotFound(NotFound):
    pass


class FlavorNotFound(NotFound):
    pass


class InvalidImage(BadRequest):
    """An image file that is not what it claims (not qcow2/raw, bad checksum)."""


class InvalidInstanceState(Conflict):
    """The action is not allowed from the instance's current state."""


class HypervisorError(ObjstoreError):
    """libvirt refused or failed an operation (translated at the driver edge)."""

    status = 500


class HypervisorUnavailable(HypervisorError):
    """The libvirt URI cannot be reached."""

    status = 503
