# Two commands for a fresh clone: `make demo` and `make test`. Both create .venv at the repo root
# and reuse it while pyproject.toml and constraints.txt are unchanged.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pii-factory-installed

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -c "import llamafactory, torch, torchaudio; print('llamafactory', llamafactory.__version__, 'torch', torch.__version__)"
	$(PY) -c "import sys; assert any(type(f).__name__ == '_TunerHook' for f in sys.meta_path), 'pii_factory_hook.pth was not installed (plugins/_build.py)'"
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m piifactory.demo

clean:
	rm -rf $(VENV) outputs .cache data
