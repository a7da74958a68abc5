# hpjax: two commands do everything on a fresh machine.
#   make demo   create .venv, install hpjax, run the headline computation and the singlet posterior
#               (form factors and SM prediction floating), write results/ and figures
#   make test   create .venv, install hpjax with test extras, lint (ruff), run the test suite
#   make bench  the benchmark suite against the numpy/scipy/emcee baselines (benchmarks/)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# make test runs the suite in TEST_WORKERS processes (pytest-xdist; each test file stays in one
# process, so module fixtures compile once); TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax

.PHONY: demo test test-all lint format bench bench-quadrature venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/hpjax demo --out results
	$(BIN)/hpjax sample fits/singlet_posterior.toml

# XLA compiles make test's programs at backend optimisation level 0 with XLA:CPU's loop emitters
# (HPJAX_TEST_FAST_COMPILE, see tests/conftest.py): compilation is most of the suite's CPU time,
# and these settings compile the same programs in about half the time
test: $(STAMP)
	$(BIN)/ruff check hpjax tests benchmarks
	$(BIN)/ruff format --check hpjax tests benchmarks
	HPJAX_TEST_FAST_COMPILE=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow" --durations=15

# make test-all: the suite with the heavy cross-checks marked slow (about twice as long), compiled
# at XLA's default optimisation level (as users' programs are)
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

# make bench: the benchmark suite (benchmarks/run.py; about 18 minutes on 2 cores), results in
# benchmarks/RESULTS.md and results.json. BENCH_ARGS="--quick" for a development run,
# BENCH_ARGS="--device gpu" on a GPU machine.
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(BENCH_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check hpjax tests benchmarks
	$(BIN)/ruff format --check hpjax tests benchmarks

# rewrite the code in ruff's format and apply ruff's safe fixes
format: $(STAMP)
	$(BIN)/ruff check --fix hpjax tests benchmarks
	$(BIN)/ruff format hpjax tests benchmarks

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-quadrature: $(STAMP)
	$(BIN)/python benchmarks/quadrature_convergence.py

clean:
	rm -rf $(VENV) .cache results
