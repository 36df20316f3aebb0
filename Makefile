# vibook: the two commands are `make book` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BOOK := _build/html/index.html
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))
# Notebooks that nbval re-executes: the chapters, the JAX primer and the
# Performance appendix.
NOTEBOOKS := $(CHAPTERS) appendix/own_model.ipynb appendix/jax_primer.ipynb appendix/performance.ipynb
# Chromium for the browser tests: Debian's, unless CHROMIUM says otherwise.
export CHROMIUM ?= /usr/bin/chromium
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED := 0
# XLA's CPU code at most AVX2 whatever the processor, so that float sums (and
# the stored outputs nbval compares) come out the same on x86 machines with
# and without AVX-512. NUTS and flow training amplify last-bit differences.
export XLA_FLAGS ?= --xla_cpu_max_isa=AVX2

.PHONY: references book lab test unit unit64 nbval site browser test-lab pdf test-pdf execute bench clean help

help:
	@echo "make book     build the website into _build/html (sets up .venv first)"
	@echo "make lab      open the chapters in JupyterLab (with jupyterlab-myst) from .venv"
	@echo "make test     unit tests, nbval on every chapter, strict site build, browser tests"
	@echo "make pdf      print the whole book to _build/pdf/vibook.pdf (Chromium)"
	@echo "make execute  re-run every chapter (and the Performance appendix) in place, refreshing stored outputs"
	@echo "make references  regenerate the stored reference runs (NUTS draws, trained flows) the chapters load"
	@echo "make bench    run the benchmarks (installs NumPyro and PyTorch), refresh the Performance appendix"

$(BIN)/.installed: requirements.txt requirements-test.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	touch $@

book: $(BIN)/.installed
	$(BIN)/jupyter-book build . --builder html
	@echo "The book is at file://$(CURDIR)/$(BOOK)"

# The chapters in JupyterLab, from the project's environment (.venv): the prose
# rendered by jupyterlab-myst, numbers and sliders live once the cells run.
lab: $(BIN)/.installed
	$(BIN)/jupyter lab chapters/

# The stages one after another, each logged to .test-logs/STAGE.log; the last
# line says which stage failed and why (its test runner's summary line), so a
# reader on an unusual machine can report it in one line.
STAGES := unit unit64 nbval site browser test-lab test-pdf
test: $(BIN)/.installed
	@mkdir -p .test-logs; \
	for stage in $(STAGES); do \
		$(MAKE) --no-print-directory $$stage 2>&1 | tee .test-logs/$$stage.log; \
		if [ $${PIPESTATUS[0]} -ne 0 ]; then \
			why=$$(grep -E '^=+ .*(failed|error|passed).* =+$$' .test-logs/$$stage.log | tail -n 1); \
			why=$${why:-$$(grep -E '(failed|error|Error|ERROR)' .test-logs/$$stage.log | tail -n 1)}; \
			echo "make test: FAILED at stage '$$stage' (rerun: make $$stage; log: .test-logs/$$stage.log): $${why:-see the log}"; \
			exit 1; \
		fi; \
	done; \
	echo "make test: all stages passed ($(STAGES))"

# The unit tests, and every docstring example of the package run as a doctest.
unit: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 tests --ignore=tests/site
	$(BIN)/python -m pytest -n 2 --doctest-modules vibook -p no:cacheprovider

# The unit tests once more with jax_enable_x64: the package works in float64 too.
# Tests of float32 behaviour itself (marked float32) and the reruns of stored
# float32 reference runs are left out.
unit64: $(BIN)/.installed
	JAX_ENABLE_X64=1 $(BIN)/python -m pytest -n 2 tests --ignore=tests/site -m "not float32" \
		--ignore=tests/test_references_ch08.py --ignore=tests/test_references_ch09.py \
		--ignore=tests/test_references_ch10.py \
		-p no:cacheprovider -q

# Two notebooks at a time (pytest-xdist), each whole on one worker (loadfile):
# a kernel runs one notebook's cells in order, and the stored outputs do not
# depend on load (see CONTRIBUTING.md).
nbval: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval $(NOTEBOOKS) --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-current-env --nbval-cell-timeout 300 -p no:cacheprovider --durations=0

site: $(BIN)/.installed
	rm -rf _build
	$(BIN)/jupyter-book build . --builder html --warningiserror --nitpick --keep-going
	$(BIN)/python -m pytest tests/site/test_site.py

browser: $(BIN)/.installed
	@test -x "$(CHROMIUM)" || { echo "Chromium not found at $(CHROMIUM): apt-get install chromium (see .ci/run)"; exit 1; }
	$(BIN)/python -m pytest tests/site/test_browser.py

# One chapter in JupyterLab, started from .venv, in the same headless Chromium.
test-lab: $(BIN)/.installed
	@test -x "$(CHROMIUM)" || { echo "Chromium not found at $(CHROMIUM): apt-get install chromium (see .ci/run)"; exit 1; }
	$(BIN)/python -m pytest tests/site/test_lab.py tests/site/test_lab_refs.py

# The PDF edition: the single-page build, printed by Chromium (see scripts/pdf.py).
pdf: $(BIN)/.installed
	@test -x "$(CHROMIUM)" || { echo "Chromium not found at $(CHROMIUM): apt-get install chromium (see .ci/run)"; exit 1; }
	rm -rf _build/singlehtml _build/pdf
	$(BIN)/jupyter-book build . --builder singlehtml --keep-going
	$(BIN)/python scripts/pdf.py
	@echo "The PDF is at $(CURDIR)/_build/pdf/vibook.pdf"

test-pdf: pdf
	$(BIN)/python -m pytest tests/site/test_pdf.py

execute: $(BIN)/.installed
	$(BIN)/python scripts/execute.py $(NOTEBOOKS)

# Regenerate the stored reference runs (long NUTS runs, trained flows) that the
# chapters load: vibook/datasets/references/*.npz, one script each.
references: $(BIN)/.installed
	for s in scripts/references/*.py; do $(BIN)/python $$s || exit 1; done

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python benchmarks/run.py
	$(BIN)/python scripts/execute.py appendix/performance.ipynb

clean:
	rm -rf _build
