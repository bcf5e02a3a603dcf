"""The proxy: the Swift v1 API over the rings (server.py, controllers/), its
quorum decisions (quorum.py), the middleware pipeline built from config
(pipeline.py, middleware/). It reaches storage nodes only over HTTP.
"""
