"""The layering of ARCHITECTURE.md, checked on the source: each package imports
only from the layers below it, and the few wrapped dependencies are imported by
exactly one module each."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "objstore")

# package -> objstore packages it may import (besides itself)
ALLOWED = {
    "common": set(),
    "ring": {"common"},
    "web": {"common"},
    "client": {"common"},
    "daemon": {"common", "ring", "web"},
    "db": {"common", "ring", "web", "daemon"},
    "obj": {"common", "ring", "web", "daemon"},
    "container": {"common", "ring", "web", "daemon", "db"},
    "account": {"common", "ring", "web", "daemon", "db"},
    "proxy": {"common", "ring", "web"},
    "compute": {"common", "web", "client"},
    "cli": None,  # may import anything
}

# third-party module -> the only objstore modules allowed to import it
WRAPPED = {
    "eventlet": {"common/green.py"},
    "greenlet": {"common/green.py"},
    "netifaces": {"common/ipaddrs.py"},
    "libvirt": {"compute/driver.py"},
    "pickle": set(),
    "cPickle": set(),
}
WEBOB_OK = "web/"


def _modules():
    for dirpath, _dirs, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, ROOT).replace(os.sep, "/"), path


def _imports(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


MODULES = sorted(_modules())


def test_there_is_code_to_check():
    assert any(rel.startswith("common/") for rel, _ in MODULES)


@pytest.mark.parametrize("rel,path", MODULES, ids=[rel for rel, _ in MODULES])
def test_layers_and_wrapped_dependencies(rel, path):
    package = rel.split("/", 1)[0] if "/" in rel else None
    allowed = ALLOWED.get(package, set()) if package else None
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "objstore" and allowed is not None:
            parts = name.split(".")
            if len(parts) > 1 and parts[1] != package:
                assert parts[1] in allowed, "%s imports %s (layer %s may use %s)" % (
                    rel, name, package, sorted(allowed))
        if top in WRAPPED:
            assert rel in WRAPPED[top], "%s imports %s; only %s may" % (rel, top, sorted(WRAPPED[top]))
        if top == "webob":
            assert rel.startswith(WEBOB_OK), "%s imports webob; only objstore/web/ wraps it" % rel
