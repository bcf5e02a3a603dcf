# The two commands of the README:
#   make run    set up .venv and start the all-in-one cluster on its embedded default
#   make test   set up .venv (and Debian packages when root) and run the whole test suite
# Both work on a machine with only python3, pip and make.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the test suite uses (installed only when running as root).
DEBS := rclone xfsprogs e2fsprogs curl

.PHONY: run test venv system-deps compute-deps unit functional probe bench clean

$(STAMP): setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "not root: make sure these Debian packages are installed: $(DEBS)"; fi

# Compute (libvirt + QEMU TCG, and cpio for the tiny test guest): installed
# --no-install-recommends (the recommends pull a GUI, lvm2, Xen and VirtualBox drivers),
# then libvirt-python, which builds against libvirt-dev (the compute extra). Idempotent.
COMPUTE_DEBS := libvirt-dev pkg-config qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients cpio
compute-deps: $(STAMP) system-deps
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(COMPUTE_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages for compute:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	else echo "not root: make sure these Debian packages are installed: $(COMPUTE_DEBS)"; fi
	@$(PY) -c "import libvirt" 2>/dev/null || $(PY) -m pip install -q -e '.[compute]' || \
	  echo "could not install libvirt-python (needs libvirt-dev and pkg-config): compute tests will fail"

run: $(STAMP)
	$(PY) -m objstore.cli.aio start $(ARGS)

test: $(STAMP) system-deps compute-deps
	$(PY) -m tests.run_suites $(ARGS)

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit $(ARGS)

functional: $(STAMP)
	$(PY) -m pytest -q tests/functional $(ARGS)

probe: $(STAMP)
	$(PY) -m pytest -q -m probe tests/probe $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info

bench: $(STAMP)
	$(PY) -m benchmarks.run $(ARGS)
