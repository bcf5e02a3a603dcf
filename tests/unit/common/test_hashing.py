import hashlib

import pytest

from objstore.common import hashing
from objstore.common.exceptions import ConfigError


def test_hash_path_uses_secrets(objstore_conf):
    prefix, suffix = hashing.secrets()
    expected = hashlib.md5(prefix + b"/a/c/o" + suffix).hexdigest()
    assert hashing.hash_path("a", "c", "o") == expected
    assert hashing.hash_path("a") != hashing.hash_path("a", "c")


def test_explicit_secrets_and_unicode():
    pair = (b"pre", b"suf")
    assert hashing.hash_path("a", "c", "\u00e9", secrets_pair=pair) == hashlib.md5(
        b"pre/a/c/\xc3\xa9suf"
    ).hexdigest()


def test_object_needs_container():
    with pytest.raises(ValueError):
        hashing.hash_path("a", None, "o", secrets_pair=(b"p", b""))


def test_refuses_to_run_without_conf(tmp_path, monkeypatch):
    monkeypatch.setenv("OBJSTORE_CONF", str(tmp_path / "missing.conf"))
    hashing.load_secrets.cache_clear()
    with pytest.raises(ConfigError, match="not found"):
        hashing.hash_path("a")


def test_refuses_empty_secrets(tmp_path, monkeypatch):
    path = tmp_path / "objstore.conf"
    path.write_text("[objstore-hash]\nhash_path_prefix =\nhash_path_suffix =\n")
    monkeypatch.setenv("OBJSTORE_CONF", str(path))
    hashing.load_secrets.cache_clear()
    with pytest.raises(ConfigError, match="refusing"):
        hashing.hash_path("a")


def test_suffix():
    assert hashing.suffix_of("d41d8cd98f00b204e9800998ecf8427e") == "27e"
