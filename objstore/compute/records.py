"""Instance records: the :class:`Instance` dataclass and the local SQLite file
that keeps them across restarts of the service (``<state_dir>/compute.db``).

The same record, as JSON, also lives in the libvirt domain's ``<metadata>``
(domain.py), so the manager can rebuild a lost row from libvirt; reconciling
the two is the manager's job, not this module's.
"""

import dataclasses
import json
import os
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    owner TEXT,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_owner ON instances (owner);
"""


@dataclasses.dataclass
class Instance:
    """One instance. ``flavor`` is the flavor's dict as it was at boot."""

    id: str
    name: str
    owner: str
    state: str
    flavor: dict
    image_id: str
    domain: str
    instance_dir: str
    console_path: str
    disk_path: str = ""
    kernel_path: str = ""
    ramdisk_path: str = ""
    cmdline: str = ""
    kernel_id: str = ""
    ramdisk_id: str = ""
    metadata: dict = dataclasses.field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    fault: str = ""
    power_state: str = ""

    def as_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def durable(self):
        """What goes into the domain's metadata (no volatile power state)."""
        data = self.as_dict()
        data.pop("power_state", None)
        return data


class InstanceRecords:
    """The SQLite file of instance records; safe to share between threads."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self):
        with self._lock:
            self._db.close()

    def put(self, instance):
        """Insert or replace ``instance``."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO instances (id, owner, name, state, record) VALUES (?, ?, ?, ?, ?)",
                (instance.id, instance.owner, instance.name, instance.state, json.dumps(instance.as_dict())),
            )

    def get(self, instance_id):
        """The record, or None."""
        with self._lock:
            row = self._db.execute("SELECT record FROM instances WHERE id = ?", (instance_id,)).fetchone()
        return Instance.from_dict(json.loads(row[0])) if row else None

    def all(self, owner=None):
        """Every record (of ``owner`` when given), oldest first."""
        with self._lock:
            if owner is None:
                rows = self._db.execute("SELECT record FROM instances").fetchall()
            else:
                rows = self._db.execute("SELECT record FROM instances WHERE owner = ?", (owner,)).fetchall()
        found = [Instance.from_dict(json.loads(row[0])) for row in rows]
        return sorted(found, key=lambda inst: (inst.created_at, inst.id))

    def delete(self, instance_id):
        with self._lock:
            self._db.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
