"""Command-line tools: the ring builder, get-nodes, the all-in-one
(``objstore-aio``) and the server manager (``objstore-init``). Logic lives in
the modules here; ``bin/`` holds one-line shims calling their ``main()``."""
