"""WSGI filters of the proxy pipeline. Each module has a frozen ``Config`` and
``filter_factory(app, config, logger, capabilities) -> WSGI app``."""
