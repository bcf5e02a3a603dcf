"""The compute companion: a thin service that runs virtual machines through
libvirt, booting images kept in the object store.

Layout (one noun per module):
- config.py: the [compute] and [compute-api] settings, flavors from config.
- states.py: instance states, the allowed transitions and the reconciliation
  table (pure tables, tested with literals).
- domain.py: the domain XML builder and the metadata we keep in the domain.
- images.py: image records in the object store and the local base cache.
- records.py: the local SQLite of instance records.
- driver.py: the only module that imports libvirt.
- manager.py: ``Compute``, the Python API the CLI and the HTTP API both call.
- cli.py (objstore-compute) and server.py (objstore-compute-api).

It reaches the object store only over its public HTTP API (objstore.client),
never by importing server code.
"""
