"""Object updater (owned by the repair engineer, issue 6).

Will hold: the ObjectUpdater daemon: replay async_pending container updates,
remove each on success, keep it on failure.
"""
