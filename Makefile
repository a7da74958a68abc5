# hpjax: two commands do everything on a fresh machine.
#   make demo   create .venv, install hpjax, run the headline computation and the singlet posterior
#               (form factors and SM prediction floating), write results/ and figures
#   make test   create .venv, install hpjax with test extras, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/hpjax demo --out results
	$(BIN)/hpjax sample fits/singlet_posterior.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/quadrature_convergence.py

clean:
	rm -rf $(VENV) .cache results
