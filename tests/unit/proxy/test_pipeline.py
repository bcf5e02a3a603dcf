"""Building the middleware pipeline from config, and its startup errors."""

import configparser
import os

import pytest

from objstore.common.config import options_of, read_ini
from objstore.common.constraints import DEFAULT
from objstore.common.exceptions import ConfigError
from objstore.proxy import pipeline
from objstore.proxy.server import ProxyApp, ProxyServerConfig
from objstore.web.app import Request

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")


def write(tmp_path, text):
    path = tmp_path / "proxy-server.conf"
    path.write_text(text)
    return str(path)


def test_plan_reads_filters_and_their_options(tmp_path):
    path = write(tmp_path, "[DEFAULT]\nbind_port = 8080\n[pipeline:main]\npipeline = catch_errors auth proxy-server\n"
                           "[filter:auth]\nuse = egg:objstore#tempauth\nuser_a_b = c\n")
    steps = pipeline.plan(read_ini(path), path)
    assert steps == [("catch_errors", "catch_errors", {}), ("auth", "tempauth", {"user_a_b": "c"})]


@pytest.mark.parametrize("text,message", [
    ("[pipeline:main]\npipeline = catch_errors nosuch proxy-server\n", "nosuch"),
    ("[pipeline:main]\npipeline = catch_errors\n", "must end with proxy-server"),
    ("[pipeline:main]\npipeline =\n", "empty pipeline"),
    ("[pipeline:main]\npipeline = x proxy-server\n[filter:x]\nuse = egg:objstore#typo\n", "unknown middleware 'typo'"),
])
def test_plan_errors_name_the_culprit(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        pipeline.plan(read_ini(path), path)
    assert message in str(err.value) and path in str(err.value)


def test_default_pipeline_when_the_section_is_absent(tmp_path):
    path = write(tmp_path, "[proxy-server]\n")
    assert [name for name, _k, _o in pipeline.plan(read_ini(path), path)] == [
        "catch_errors", "gatekeeper", "healthcheck", "proxy_logging"]
    path = write(tmp_path, "[proxy-server]\n[filter:tempauth]\nuser_a_b = c .admin\n")
    assert "tempauth" in [name for name, _k, _o in pipeline.plan(read_ini(path), path)]


def test_bad_filter_option_is_a_config_error(tmp_path, capture):
    path = write(tmp_path, "[pipeline:main]\npipeline = healthcheck proxy-server\n[filter:healthcheck]\nbogus = 1\n")
    with pytest.raises(ConfigError) as err:
        pipeline.build_pipeline(read_ini(path), path, object(), capture[0])
    assert "bogus" in str(err.value)


def test_built_pipeline_serves_healthcheck_and_trans_ids(tmp_path, capture):
    path = write(tmp_path, "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy_logging proxy-server\n")
    logger, handler = capture
    app = ProxyApp(ProxyServerConfig(), logger, None, None, None, DEFAULT)
    wsgi = pipeline.build_pipeline(read_ini(path), path, app, logger)
    resp = Request.blank("/healthcheck").get_response(wsgi)
    assert resp.status_int == 200 and resp.body == b"OK" and resp.headers["X-Trans-Id"].startswith("tx")
    resp = Request.blank("/info").get_response(wsgi)
    assert resp.json["swift"]["version"]  # reading the body ends the request: the access line is written
    assert resp.headers["X-Trans-Id"] == resp.headers["X-Openstack-Request-Id"]
    assert len(resp.headers.getall("X-Trans-Id")) == 1
    assert [line for line in handler.lines() if '"GET /info"' in line][0].split()[3] == "200", handler.lines()
    resp = Request.blank("/nothing").get_response(wsgi)
    assert resp.status_int == 404


def test_healthcheck_disable_path(tmp_path, capture):
    disable = tmp_path / "off"
    path = write(tmp_path, "[pipeline:main]\npipeline = healthcheck proxy-server\n"
                           "[filter:healthcheck]\ndisable_path = %s\n" % disable)
    app = ProxyApp(ProxyServerConfig(), capture[0], None, None, None, DEFAULT)
    wsgi = pipeline.build_pipeline(read_ini(path), path, app, capture[0])
    disable.write_text("")
    resp = Request.blank("/healthcheck").get_response(wsgi)
    assert resp.status_int == 503 and resp.body == b"DISABLED BY FILE"


def test_gatekeeper_strips_internal_headers(tmp_path, capture):
    from objstore.proxy.middleware.gatekeeper import GateKeeper

    seen = {}

    def inner(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [("X-Object-Sysmeta-Secret", "1"), ("X-Backend-Thing", "2"), ("X-Object-Meta-Ok", "3")])
        return [b""]

    resp = Request.blank("/v1/a/c/o", headers={"X-Object-Sysmeta-Evil": "1", "X-Backend-Replication": "true",
                                               "X-Timestamp": "1", "X-Object-Meta-Fine": "1"}).get_response(GateKeeper(inner))
    assert "HTTP_X_OBJECT_SYSMETA_EVIL" not in seen and "HTTP_X_BACKEND_REPLICATION" not in seen
    assert "HTTP_X_TIMESTAMP" not in seen and seen["HTTP_X_OBJECT_META_FINE"] == "1"
    assert list(resp.headers.keys()) == ["X-Object-Meta-Ok"]


def test_conf_sample_lists_every_option():
    path = os.path.join(ROOT, "etc", "proxy-server.conf-sample")
    text = open(path).read()
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    sections = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif line.startswith("# ") and " = " in line and current:
            sections.setdefault(current, set()).add(line[2:].split(" = ")[0])
    assert sections["proxy-server"] == {name for name, _d, _doc in options_of(ProxyServerConfig)}
    import importlib

    for key, module in pipeline.MIDDLEWARE.items():
        documented = sections.get("filter:%s" % key, set())
        expected = {name for name, _d, _doc in options_of(importlib.import_module(module).Config)} - {"users"}
        assert documented == expected, key
    assert parser.get("pipeline:main", "pipeline") == pipeline.DEFAULT_PIPELINE
