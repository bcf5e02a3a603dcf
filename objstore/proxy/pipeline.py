"""The middleware pipeline from ``proxy-server.conf``.

::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy_logging tempurl tempauth proxy-server

    [filter:tempauth]
    use = tempauth            # optional: which middleware (default: the name)
    user_test_tester = testing .admin

Each name but the last is a filter; its options come from ``[filter:<name>]``
(a known middleware needs no section when its defaults suit). The last name
must be the proxy app. An unknown middleware is a ConfigError at startup,
naming the file and the culprit. Without a ``[pipeline:main]`` section the
DEFAULT_PIPELINE is used (tempurl and tempauth only when ``[filter:tempauth]``
exists).
Keys inherited from ``[DEFAULT]`` are not handed to the filters.
"""

import configparser
import importlib

from objstore.common.config import build
from objstore.common.exceptions import ConfigError

# middleware name -> module (with Config and filter_factory)
MIDDLEWARE = {
    "catch_errors": "objstore.proxy.middleware.catch_errors",
    "gatekeeper": "objstore.proxy.middleware.gatekeeper",
    "healthcheck": "objstore.proxy.middleware.healthcheck",
    "proxy_logging": "objstore.proxy.middleware.proxy_logging",
    "tempauth": "objstore.proxy.middleware.tempauth",
    "tempurl": "objstore.proxy.middleware.tempurl",
}
APP_NAMES = ("proxy-server", "proxy_server")
DEFAULT_PIPELINE = "catch_errors gatekeeper healthcheck proxy_logging tempurl tempauth proxy-server"
PIPELINE_SECTION = "pipeline:main"


def _middleware_key(use):
    """``egg:objstore#tempauth`` / ``tempauth`` → ``tempauth``."""
    use = use.strip()
    if "#" in use:
        use = use.rsplit("#", 1)[1]
    return use


def plan(sections, path):
    """``[(name, middleware_key, options)]`` of the filters, outermost first.

    :raises ConfigError: no pipeline, a wrong last element, an unknown or
        misspelt middleware.
    """
    section = sections.get(PIPELINE_SECTION)
    if section is None:
        names = DEFAULT_PIPELINE.split()
        if "filter:tempauth" not in sections:
            names.remove("tempauth")
            names.remove("tempurl")  # without an auth there is nothing for a temp URL to open
    elif not section.get("pipeline", "").strip():
        raise ConfigError("%s [%s]: empty pipeline; want 'pipeline = ... proxy-server'" % (path, PIPELINE_SECTION))
    else:
        names = section["pipeline"].split()
    defaults = _defaults(path)
    if names[-1] not in APP_NAMES:
        raise ConfigError("%s [%s]: the pipeline must end with proxy-server, not %r" % (path, PIPELINE_SECTION, names[-1]))
    result = []
    for name in names[:-1]:
        options = {key: value for key, value in sections.get("filter:%s" % name, {}).items()
                   if not (key in defaults and defaults[key] == value)}
        key = _middleware_key(options.pop("use", name))
        if key not in MIDDLEWARE:
            known = ", ".join(sorted(MIDDLEWARE))
            if "filter:%s" % name not in sections:
                raise ConfigError("%s: pipeline names %r, which has no [filter:%s] section and is not a "
                                  "known middleware (%s)" % (path, name, name, known))
            raise ConfigError("%s [filter:%s]: unknown middleware %r (known: %s)" % (path, name, key, known))
        result.append((name, key, options))
    return result


def _defaults(path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError):
        return {}
    return dict(parser.defaults())


def build_pipeline(sections, path, app, logger):
    """Wrap the proxy ``app`` in the filters its config declares.

    :returns: the outermost WSGI callable.
    """
    steps = plan(sections, path)
    built = []
    for name, key, options in steps:
        module = importlib.import_module(MIDDLEWARE[key])
        section = "filter:%s" % name
        loader = getattr(module, "load_config", None)
        if loader is not None:
            config = loader(options, path, section)
        else:
            config = build(module.Config, options, path, section, allow_unknown=("use",))
        built.append((module, config))
    wsgi = app
    for module, config in reversed(built):
        wsgi = module.filter_factory(wsgi, config, logger, app)
    return wsgi
