"""Object auditor (owned by the repair engineer, issue 6).

Will hold: the ObjectAuditor daemon: walk every object, check size and md5
against the metadata, quarantine mismatches; a zero-byte fast pass; rate limits.
"""
