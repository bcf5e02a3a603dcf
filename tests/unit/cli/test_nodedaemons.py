"""objstore-node-daemons: every daemon of a node in one real process, on a real
one-node layout (configs, rings, devices as the all-in-one writes them)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from objstore.cli import catalog, layout, nodedaemons, procs
from objstore.common.exceptions import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DAEMONS = sorted(program.name for program, _ in catalog.available(catalog.daemons()))


@pytest.fixture(scope="module")
def node(one_node_layout):
    return one_node_layout


def run(args, settings, timeout=120):
    env = procs.child_env(layout.objstore_conf_path(settings.data_dir))
    return subprocess.run([sys.executable, "-m", "objstore.cli.nodedaemons", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=timeout)


def recon_entries(settings):
    recon = os.path.join(os.path.dirname(layout.devices_dir(settings.data_dir, 1).rstrip("/")), "recon")
    entries = {}
    for name in os.listdir(recon) if os.path.isdir(recon) else []:
        with open(os.path.join(recon, name)) as handle:
            entries[name[:-5]] = json.load(handle)
    return entries


def test_once_runs_every_daemon_of_the_node_in_one_process(node):
    assert len(DAEMONS) >= 10
    done = run([layout.node_etc_dir(node.data_dir, 1), "--once"], node)
    assert done.returncode == 0, done.stderr
    assert "running " in done.stderr
    entries = recon_entries(node)
    assert sorted(entries) == DAEMONS  # each wrote its pass to the recon cache
    assert all(entry["passes"] >= 1 and not entry["partial"] for entry in entries.values())


def test_only_some_and_files_given_one_by_one(node):
    etc = layout.node_etc_dir(node.data_dir, 1)
    before = {name: entry["passes"] for name, entry in recon_entries(node).items()}
    done = run([os.path.join(etc, "object-server.conf"), os.path.join(etc, "account-server.conf"),
                "--once", "--only", "object-auditor,account-reaper"], node)
    assert done.returncode == 0, done.stderr
    after = {name: entry["passes"] for name, entry in recon_entries(node).items()}
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["account-reaper", "object-auditor"]


def test_sigterm_stops_every_daemon_promptly(node):
    env = procs.child_env(layout.objstore_conf_path(node.data_dir))
    child = subprocess.Popen([sys.executable, "-m", "objstore.cli.nodedaemons", layout.node_etc_dir(node.data_dir, 1)],
                             stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = child.stderr.readline()
        assert line.startswith("objstore-node-daemons: running ")
        assert sorted(line.split("running ", 1)[1].strip().split(", ")) == DAEMONS
        time.sleep(1.0)
        assert child.poll() is None  # daemons loop, they do not exit after a pass
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stderr.close()


@pytest.mark.parametrize("args,message", [
    (["/no/such/dir"], "/no/such/dir: no such file or directory"),
    (["ETC", "--only", "object-teleporter"], "unknown daemon object-teleporter"),
    (["ETC/proxy-server.conf"], "no section for any daemon"),
])
def test_bad_input_is_one_line_and_exit_2(node, args, message):
    etc = layout.node_etc_dir(node.data_dir, 1)
    args = [arg.replace("ETC", etc) for arg in args]
    if args[0].endswith("proxy-server.conf"):
        args[0] = os.path.join(node.data_dir, "etc", "proxy-server.conf")
    done = run(args, node)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_option_names_file_and_key(tmp_path):
    conf = tmp_path / "object-server.conf"
    conf.write_text("[object-server]\ndevices = %s\n[object-auditor]\ninterval = soon\n" % tmp_path)
    found = nodedaemons.find_daemons([str(conf)], catalog.available(catalog.daemons()))
    assert [program.name for program, _cls, _path in found] == ["object-auditor"]
    with pytest.raises(ConfigError) as err:
        nodedaemons.build_daemons(found)
    assert "interval" in str(err.value) and str(conf) in str(err.value)


def test_one_daemon_in_two_files_is_refused(tmp_path):
    one, two = tmp_path / "a.conf", tmp_path / "b.conf"
    one.write_text("[object-auditor]\n")
    two.write_text("[object-auditor]\n")
    with pytest.raises(ConfigError) as err:
        nodedaemons.find_daemons(nodedaemons.config_files([str(tmp_path)]), catalog.available(catalog.daemons()))
    assert "[object-auditor] is in both" in str(err.value)
