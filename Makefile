# capforecast: two commands set everything up on a fresh machine.
#   make demo   creates or reuses .venv, installs capforecast, runs the demo on the bundled sample
#   make test   installs the test extras and system tools the tests need (Debian's prometheus and
#               victoria-metrics), runs the suite
#   (make test-slow runs only the slow tests, make test-all both; tests needing the public data skip without it)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= out

# Stable numbers and quiet logs from TensorFlow.
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-slow test-all install system-deps sample lint bench clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "capforecast needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/capforecast demo --out $(OUT)

# Prometheus and promtool, and VictoriaMetrics, for the ingestion tests (real servers on 127.0.0.1), from
# Debian's prometheus and victoria-metrics packages. The tests start their own servers on free ports; the
# services the packages enable (:9090, :8428) are not needed (systemctl disable --now them if unwanted).
system-deps:
	@missing=""; \
	{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing="prometheus"; \
	command -v victoria-metrics >/dev/null || missing="$$missing victoria-metrics"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing package(s) for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v kubectl >/dev/null || echo "warning: kubectl not found; the overlay tests need it (kubectl kustomize)"

test: $(VENV)/.test-installed system-deps
	$(PY) -m pytest

# EMPTY_OK=1 (CI): pytest's exit code 5, no test collected, counts as success
test-slow: $(VENV)/.test-installed system-deps
	$(PY) -m pytest -m slow || { rc=$$?; [ "$(EMPTY_OK)" = 1 ] && [ $$rc -eq 5 ] && echo "no slow tests collected"; }

test-all: $(VENV)/.test-installed system-deps
	$(PY) -m pytest -m ''

sample: $(VENV)/.installed
	$(VENV)/bin/capforecast sample --out data/sample

lint: $(VENV)/.test-installed
	$(PIP) install -q ruff mypy
	$(PY) -m ruff check capforecast tests benchmarks
	$(PY) -m mypy

bench: $(VENV)/.installed
	for b in benchmarks/*.py; do case $$b in */_*) ;; *) $(PY) $$b || exit 1;; esac; done

clean:
	rm -rf $(OUT) build *.egg-info
