# Two commands for a fresh clone: `make demo` and `make test`. Both create .venv at the repo root
# and reuse it while pyproject.toml and constraints.txt are unchanged.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pii-factory-installed
RUNTIME_STAMP := $(VENV)/.pii-factory-runtime
# uv installs the pinned stack (the 2.5 GB CUDA build of torch among it) about 5x faster than pip:
# parallel downloads and unpacking (docs/demo.md). It is itself pinned in constraints.txt.
UV_INSTALL := $(PY) -m uv pip install --quiet --python $(PY) -c constraints.txt

.PHONY: demo test test-fast test-compat compat-venv lint test-browser board bench gpu-check gpu-wheels gpu-rehearsal vllm-env rules-peers conformance venv clean llamacpp gotools

venv: $(STAMP)

# The demo and the board need the runtime only; tests, lint and benchmarks add the [dev] extra.
$(RUNTIME_STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt uv
	$(UV_INSTALL) -e .
	$(PY) -c "import llamafactory, torch, torchaudio; print('llamafactory', llamafactory.__version__, 'torch', torch.__version__)"
	$(PY) -c "import sys; assert 'pii_factory_startup' in sys.modules and 'plugins' not in sys.modules, 'pii_factory_hook.pth was not installed (plugins/_build.py)'"
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(UV_INSTALL) -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Everything but the browser test (make test-browser), slow tests included.
test: lint llamacpp gotools
	$(PY) -m pytest

# The quick loop: no test that really trains or generates (@pytest.mark.slow), no browser.
test-fast: lint gotools
	$(PY) -m pytest -m 'not slow and not browser'

# llama.cpp's converter, quantizer and Python bindings, built once from the registry's
# llama-cpp-python source package into .cache/llama.cpp-<version>/ (piifactory/models/llamacpp.py; the
# build time is in the README). The first `python -m workflows.export gguf` builds it otherwise.
llamacpp: $(STAMP)
	$(PY) -m workflows.export build

# Go's text/template, the engine ollama renders a Modelfile TEMPLATE with (tests/tools/ollama_render.go).
gotools:
	@command -v go >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go)

# LLaMA-Board driven in Debian's headless chromium (installed here if missing; nothing downloads
# a browser). Screenshots land in outputs/board-screenshots.
test-browser: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
	PII_BOARD_SCREENSHOTS=$(CURDIR)/outputs/board-screenshots $(PY) -m pytest -m browser -s

# Throughputs and side-by-side ratios, printed and written to bench/results.md with the machine.
bench: $(STAMP) llamacpp
	$(PY) -m bench

# On a CUDA machine: every shipped training recipe, a few real steps with the plugin, then
# eval.predict; peak memory and speed next to the preflight's estimates, in bench/gpu_results.md
# (docs/bench-gpu.md). `python -m bench.gpu --dry-run` runs the same with tiny shapes on CPU.
gpu-check: $(STAMP)
	$(PY) -m bench.gpu

# The cp312 wheels the lent GPU machine lacks, into .whl/ (bitsandbytes slimmed to CUDA 13.0),
# sized against the 64 MiB a device call carries; bench/gpu_device.sh installs them there.
gpu-wheels: $(STAMP)
	$(PY) -m bench.gpu_wheels

# The device call rehearsed on CPU: a stand-in for the machine's bare Python, the wheels, a fake
# nvidia-smi, a copy of the tree nothing may write to, bench/gpu_device.sh with tiny shapes (docs/bench-gpu.md).
gpu-rehearsal: $(STAMP)
	bash bench/gpu_rehearsal.sh

# The second tested stack (docs/install.md): LLaMA-Factory 0.9.5 on torch 2.8.0 + transformers
# 4.57.1, pinned in constraints-compat.txt, in .venv-compat (installed with uv like .venv). The fast
# suite runs there, then the compat tests (tests/test_compat_stack.py): every shipped recipe through
# LLaMA-Factory's parser, and the built wheel installed with plain pip into a fresh venv of the same
# stack, a shipped recipe trained there by the stock CLI with the plugin, predicted and scored.
COMPAT_VENV := .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
COMPAT_STAMP := $(COMPAT_VENV)/.pii-factory-installed

compat-venv: $(COMPAT_STAMP)

$(COMPAT_STAMP): pyproject.toml constraints-compat.txt
	@test -x $(COMPAT_PY) || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install --quiet -c constraints-compat.txt uv
	$(COMPAT_PY) -m uv pip install --quiet --python $(COMPAT_PY) -c constraints-compat.txt -e '.[dev]'
	$(COMPAT_PY) -c "import llamafactory, torch, transformers; print('llamafactory', llamafactory.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
	$(COMPAT_PY) -c "import sys; assert 'pii_factory_startup' in sys.modules, 'pii_factory_hook.pth was not installed (plugins/_build.py)'"
	@touch $@

test-compat: $(COMPAT_STAMP) gotools
	$(COMPAT_PY) -m pytest -m 'not slow and not browser'
	$(COMPAT_PY) -m pytest -m compat tests/test_compat_stack.py

# vLLM's serving environment (.venv-vllm): vllm 0.11 pins torch 2.8 and transformers 4.x, so it is
# never the training venv. CUDA machines (vLLM's wheels are CUDA builds).
VLLM_VENV := .venv-vllm
vllm-env: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: requirements-vllm.txt pyproject.toml
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(VLLM_VENV)/bin/python -m pip install --quiet -r requirements-vllm.txt
	$(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(VLLM_VENV)/bin/python -c "from eval.decoding.vllm_backend import require_vllm; print('vllm', require_vllm())"
	@touch $@

# The outside real-data folder (beside the clone in CI); `make conformance REAL_DATA=...` elsewhere.
REAL_DATA ?= ../shared/real-data

# The rule recognizers against other projects' test suites in $(REAL_DATA) (cn-identifiers,
# cn-intext-cases): agreement per type; fails on a disagreement that is not a listed decision.
rules-peers: $(STAMP)
	$(PY) -m bench.rules_peers $(REAL_DATA)

# Every corpus of the outside real-data folder (../shared/real-data, beside the clone in CI)
# converted with its label preset into one table; fails on a corrupted row or a rejection the
# manifest (converters/conformance.py) does not explain.
conformance: $(STAMP)
	$(PY) -m converters conformance $(REAL_DATA)

board: $(RUNTIME_STAMP)
	$(PY) -m workflows.board

demo: $(RUNTIME_STAMP)
	$(PY) -m workflows.demo

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(COMPAT_VENV) outputs .cache data
