# Two commands for a fresh clone: `make demo` and `make test`. Both create .venv at the repo root
# and reuse it while pyproject.toml and constraints.txt are unchanged. `make help` lists every
# target: the text after `##` on a target's line is its help.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pii-factory-installed
RUNTIME_STAMP := $(VENV)/.pii-factory-runtime
# uv installs the pinned stack (the 2.5 GB CUDA build of torch among it) about 4x faster than pip:
# parallel downloads and unpacking (docs/demo.md). It is itself pinned in constraints.txt.
UV_INSTALL := $(PY) -m uv pip install --quiet --python $(PY) -c constraints.txt

.PHONY: help demo test test-fast test-plan test-compat compat-venv lint test-browser board bench gpu-check gpu-wheels gpu-rehearsal vllm-env rules-peers conformance need-real-data venv docs clean llamacpp gotools

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/\1\t\2/' | \
	  awk -F '\t' '{ printf "  make %-14s %s\n", $$1, $$2 }'

venv: $(STAMP) ## .venv with the runtime and the [dev] extra (tests, lint)

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

lint: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Everything but the browser test (make test-browser), slow tests included. test-plan comes first:
# it says what the other prerequisites will install or build before they start.
test: test-plan lint llamacpp gotools ## lint and the whole test suite (builds llama.cpp, installs Go if missing)
	$(PY) -m pytest

LLAMACPP_CACHE := $(wildcard .cache/llama.cpp-*)
test-plan:
	@echo "make test will:"
	@test -f $(STAMP) -a $(STAMP) -nt pyproject.toml -a $(STAMP) -nt constraints.txt || \
	  echo "  - install the pinned stack into $(VENV) with uv (about 2.5 GB of downloads the first time)"
	@echo "  - run ruff check and ruff format --check"
	@$(if $(LLAMACPP_CACHE),echo "  - use llama.cpp in $(LLAMACPP_CACHE) (built before; finished or resumed)",echo "  - build llama.cpp from the llama-cpp-python source package into .cache/ (about 10 CPU-minutes, once)")
	@command -v go >/dev/null || echo "  - install Go (Debian's golang-go, with apt-get) for the ollama template tests"
	@echo "  - run pytest: every test but the browser test, slow ones included"

# The quick loop: no test that really trains or generates (@pytest.mark.slow), no browser.
test-fast: lint gotools ## the quick loop: lint and every test that neither trains nor generates
	$(PY) -m pytest -m 'not slow and not browser'

# llama.cpp's converter, quantizer and Python bindings, built once from the registry's
# llama-cpp-python source package into .cache/llama.cpp-<version>/ (piifactory/models/llamacpp.py; the
# build time is in docs/export.md). The first `python -m workflows.export gguf` builds it otherwise.
llamacpp: $(STAMP) ## build llama.cpp's converter, quantizer and bindings into .cache/ (once)
	$(PY) -m workflows.export build

# Go's text/template, the engine ollama renders a Modelfile TEMPLATE with (tests/tools/ollama_render.go).
gotools: ## install Go (golang-go, apt) if missing: the ollama template tests use it
	@command -v go >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go)

# LLaMA-Board driven in Debian's headless chromium (installed here if missing; nothing downloads
# a browser). Screenshots land in outputs/board-screenshots.
test-browser: $(STAMP) ## LLaMA-Board in headless Chromium (installs Debian's chromium if missing)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
	PII_BOARD_SCREENSHOTS=$(CURDIR)/outputs/board-screenshots $(PY) -m pytest -m browser -s

# Throughputs and side-by-side ratios, printed and written to bench/results.md with the machine.
bench: $(STAMP) llamacpp ## throughputs and side-by-side ratios into bench/results.md, with the machine
	$(PY) -m bench

# On a CUDA machine: every shipped training recipe, a few real steps with the plugin, then
# eval.predict; peak memory and speed next to the preflight's estimates, in bench/gpu_results.md
# (docs/bench-gpu.md). `python -m bench.gpu --dry-run` runs the same with tiny shapes on CPU.
gpu-check: $(STAMP) ## on a CUDA machine: every recipe's peak memory and speed vs the preflight
	$(PY) -m bench.gpu

# The cp312 wheels a bare GPU machine without a package index lacks, into .whl/ (bitsandbytes
# slimmed to CUDA 13.0); bench/gpu_device.sh installs them there (docs/bench-gpu.md).
gpu-wheels: $(STAMP) ## the wheels for the GPU check on a machine without a package index, into .whl/
	$(PY) -m bench.gpu_wheels

# bench/gpu_device.sh rehearsed on CPU: a stand-in for the machine's bare Python, the wheels, a fake
# nvidia-smi, a copy of the tree nothing may write to, tiny shapes (docs/bench-gpu.md).
gpu-rehearsal: $(STAMP) ## bench/gpu_device.sh rehearsed on CPU with tiny shapes
	bash bench/gpu_rehearsal.sh

# The second tested stack (docs/install.md): LLaMA-Factory 0.9.5 on torch 2.8.0 + transformers
# 4.57.1, pinned in constraints-compat.txt, in .venv-compat (installed with uv like .venv). The fast
# suite runs there, then the compat tests (tests/test_compat_stack.py): every shipped recipe through
# LLaMA-Factory's parser, and the built wheel installed with plain pip into a fresh venv of the same
# stack, a shipped recipe trained there by the stock CLI with the plugin, predicted and scored.
COMPAT_VENV := .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
COMPAT_STAMP := $(COMPAT_VENV)/.pii-factory-installed

compat-venv: $(COMPAT_STAMP) ## .venv-compat: the common GPU stack (torch 2.8 + transformers 4.57) from constraints-compat.txt

$(COMPAT_STAMP): pyproject.toml constraints-compat.txt
	@test -x $(COMPAT_PY) || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install --quiet -c constraints-compat.txt uv
	$(COMPAT_PY) -m uv pip install --quiet --python $(COMPAT_PY) -c constraints-compat.txt -e '.[dev]'
	$(COMPAT_PY) -c "import llamafactory, torch, transformers; print('llamafactory', llamafactory.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
	$(COMPAT_PY) -c "import sys; assert 'pii_factory_startup' in sys.modules, 'pii_factory_hook.pth was not installed (plugins/_build.py)'"
	@touch $@

test-compat: $(COMPAT_STAMP) gotools ## the fast suite and the wheel/compat tests on the common GPU stack
	$(COMPAT_PY) -m pytest -m 'not slow and not browser'
	$(COMPAT_PY) -m pytest -m compat tests/test_compat_stack.py

# vLLM's serving environment (.venv-vllm): vllm 0.11 pins torch 2.8 and transformers 4.x, so it is
# never the training venv. CUDA machines (vLLM's wheels are CUDA builds).
VLLM_VENV := .venv-vllm
vllm-env: $(VLLM_VENV)/.installed ## vLLM's serving environment in .venv-vllm (CUDA machines)

$(VLLM_VENV)/.installed: requirements-vllm.txt pyproject.toml
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(VLLM_VENV)/bin/python -m pip install --quiet -r requirements-vllm.txt
	$(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(VLLM_VENV)/bin/python -c "from eval.decoding.vllm_backend import require_vllm; print('vllm', require_vllm())"
	@touch $@

# A folder of real corpora and peer test suites, named on the command line: make conformance REAL_DATA=DIR
REAL_DATA ?=
need-real-data:
	@test -n "$(REAL_DATA)" || { echo "set REAL_DATA=DIR, the folder of real corpora (make $(MAKECMDGOALS) REAL_DATA=DIR)" >&2; exit 2; }

# The rule recognizers against other projects' test suites in $(REAL_DATA) (cn-identifiers,
# cn-intext-cases): agreement per type; fails on a disagreement that is not a listed decision.
rules-peers: need-real-data $(STAMP) ## the rule recognizers against peer test suites in REAL_DATA=DIR
	$(PY) -m bench.rules_peers $(REAL_DATA)

# Every corpus of $(REAL_DATA) converted with its label preset into one table; fails on a corrupted
# row or a rejection the manifest (converters/conformance.py) does not explain.
conformance: need-real-data $(STAMP) ## every corpus of REAL_DATA=DIR converted with its label preset, one table
	$(PY) -m converters conformance $(REAL_DATA)

board: $(RUNTIME_STAMP) ## LLaMA-Board on 127.0.0.1 with the pack's datasets and recipes
	$(PY) -m workflows.board

demo: $(RUNTIME_STAMP) ## synthetic data -> tiny Qwen3 -> train -> predict -> score, on CPU
	$(PY) -m workflows.demo

# The documentation site, into site/ (git-ignored); --strict fails on a broken link or a missing page.
DOCS_STAMP := $(VENV)/.pii-factory-docs
$(DOCS_STAMP): $(RUNTIME_STAMP)
	$(UV_INSTALL) -e '.[docs]'
	@touch $@

docs: $(DOCS_STAMP) ## the documentation site into site/ (mkdocs build --strict)
	PYTHONPATH=$(CURDIR) NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(VENV)/bin/mkdocs build --strict --site-dir site

# What the pack made, never what users wrote: data/ and outputs/ keep everything but the demo's own
# files (named by workflows/demo/plan.py), the browser test's screenshots and the GPU check's runs.
DEMO_DATA := $(addprefix data/,pii_synth.jsonl pii_synth_genres.jsonl pii_synth_train.json pii_synth_val.json pii_synth_test.json pii_synth_genres.json)
clean: ## remove the venvs, caches, site/ and the demo's files; your data/ and outputs/ stay
	rm -rf $(VENV) $(VLLM_VENV) $(COMPAT_VENV) .cache site outputs/tiny_cpu_demo outputs/board-screenshots outputs/gpu-dry-run outputs/gpu-device
	rm -f $(DEMO_DATA)
