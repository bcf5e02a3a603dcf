"""Shared foundations: configuration, timestamps, hashing, exceptions, logging,
filesystem helpers and encodings. Nothing here knows about HTTP servers, rings
or storage kinds."""
