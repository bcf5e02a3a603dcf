"""The program table: names, groups, roles; which programs a build has; each
program's config class."""

import pytest

from objstore.cli import catalog
from objstore.common.exceptions import ConfigError


def names(programs):
    return [program.name for program in programs]


def test_table_shape():
    assert names(catalog.servers()) == ["account-server", "container-server", "object-server", "proxy-server"]
    for program in catalog.daemons():
        assert program.conf == program.kind + "-server"  # daemons read their server's file
        assert program.modules[0] == "objstore.%s.%s" % ("obj" if program.kind == "object" else program.kind,
                                                         program.role)


def test_resolve_words():
    assert names(catalog.resolve(["object"])) == ["object-server"]
    assert names(catalog.resolve(["proxy", "object"])) == ["object-server", "proxy-server"]  # table order
    assert names(catalog.resolve(["replicator"])) == [
        "account-replicator", "container-replicator", "object-replicator"]
    assert names(catalog.resolve(["updaters"])) == ["container-updater", "object-updater"]
    assert names(catalog.resolve(["object-expirer", "object-expirer"])) == ["object-expirer"]
    assert catalog.resolve(["main"]) == catalog.servers()
    assert catalog.resolve(["rest"]) == catalog.daemons()
    assert catalog.resolve(["all"]) == list(catalog.PROGRAMS)
    with pytest.raises(ConfigError) as err:
        catalog.resolve(["object-teleporter"])
    assert "object-teleporter" in str(err.value) and "object-replicator" in str(err.value)


def test_a_module_without_main_is_not_available():
    placeholder = catalog.Program("x-server", "x", ("objstore.common.timestamp", "no.such.module"), "x", True)
    assert catalog.find_module(placeholder) is None
    real = catalog.Program("tick-daemon", "echo", ("no.such.module", "tests.unit.cli.tick_daemon"), "echo")
    assert catalog.find_module(real).__name__ == "tests.unit.cli.tick_daemon"


def test_config_class_of_daemons_and_servers():
    tick = catalog.Program("tick-daemon", "echo", ("tests.unit.cli.tick_daemon",), "echo")
    module = catalog.find_module(tick)
    assert catalog.daemon_class(tick, module).__name__ == "TickDaemon"
    assert catalog.config_class(tick, module).__name__ == "TickConfig"
    for program, module in catalog.available():
        if program.server:
            cls = catalog.config_class(program, module)
            assert cls is not None and cls.__name__.lower() == program.name.replace("-", "") + "config"


def test_load_config_as_the_daemon_would(tmp_path):
    tick = catalog.Program("tick-daemon", "echo", ("tests.unit.cli.tick_daemon",), "echo")
    conf = tmp_path / "echo.conf"
    conf.write_text("[echo]\ndevices = /d\nbind_port = 7\n[tick-daemon]\ninterval = 5\n")
    config = catalog.load_config(tick, catalog.find_module(tick), str(conf))
    assert (config.devices, config.bind_port, config.interval) == ("/d", 7, 5.0)  # inherited, own
    conf.write_text("[tick-daemon]\ninterval = soon\n")
    with pytest.raises(ConfigError):
        catalog.load_config(tick, catalog.find_module(tick), str(conf))


def test_every_daemon_in_the_tree_is_in_the_table():
    """A daemon that lands without a row here would never be started by
    objstore-aio or objstore-init: the table must name it."""
    from objstore.daemon.runner import Daemon
    from tests.unit.test_conf_samples import MODULES

    found = set()
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Daemon) and value.__module__ == module.__name__:
                if value.name != Daemon.name and value.name.split("-")[0] in catalog.SERVER_KINDS:
                    found.add(value.name)
    assert found, "no daemons found"
    assert found <= set(catalog.BY_NAME), sorted(found - set(catalog.BY_NAME))


def test_each_available_daemon_module_holds_its_daemon():
    for program, module in catalog.available():
        if not program.server:
            assert catalog.daemon_class(program, module) is not None, (program.name, module.__name__)
