"""Background daemons' shared machinery: the runner (runner.py), the recon
cache (recon.py) and which ring devices are local (local.py)."""
