"""Shared fixtures. Compile-heavy work is done once per session (jitted, vmapped batches)."""

import os
import pathlib
import sys

# make test sets HPJAX_TEST_FAST_COMPILE=1: XLA compiles at backend (LLVM) optimisation level 0 (the
# same programs about a third faster to compile: compilation is most of the suite's CPU time) and
# with XLA:CPU's older loop emitters instead of its fusion emitters (the posterior's value and
# gradient 6.3-6.9 -> 4.0-4.1 s to compile, belle2_full's 3.5 -> 1.1-1.6 s; the suite 623 -> 422 s;
# the programs run about as fast at level 0). The golden values (tests/test_golden.py, 1e-12) were
# computed with XLA's defaults that users get, and make test-all compiles with those.
# Only flags this jaxlib has (XLA aborts on an unknown one; importing hpjax starts no backend).
FAST_COMPILE_FLAGS = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")
if os.environ.get("HPJAX_TEST_FAST_COMPILE") == "1":
    from hpjax.inference.distributed import _jaxlib_knows

    _flags = os.environ.get("XLA_FLAGS", "").split()
    _set = {f.split("=")[0] for f in _flags}
    _new = [f for f in FAST_COMPILE_FLAGS if f.split("=")[0] not in _set and _jaxlib_knows(f[2:].split("=")[0])]
    os.environ["XLA_FLAGS"] = " ".join([*_flags, *_new])

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
_cache = os.environ.get(
    "JAX_COMPILATION_CACHE_DIR", str(pathlib.Path(__file__).resolve().parents[1] / ".cache" / "jax")
)
jax.config.update("jax_compilation_cache_dir", _cache)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pytest  # noqa: E402

import hpjax  # noqa: E402


@pytest.fixture(scope="session")
def inputs():
    return hpjax.Inputs.default()


@pytest.fixture(scope="session")
def inp_dict(inputs):
    """The same inputs as a plain dict of floats, for the scipy reference."""
    return inputs.as_dict()


# ---- fit specifications for the command's tests (test_cli, test_robustness) -------------------
TINY_SPEC = """
[fit]
name = "tiny"
[model]
name = "singlet"
[model.parameters]
m_hD = 1.0
sin_theta = 6.0e-3
y_D = 1.0
m_chi = 0.0
[free.sin_theta]
range = [1.0e-4, 0.1]
scale = "log"
"""


@pytest.fixture(scope="session")
def tiny_spec():
    """The head of a one-parameter singlet fit specification (sin_theta free, log scale); a test
    appends its [likelihood] and [task.*] tables (and may add keys to [free.sin_theta])."""
    return TINY_SPEC


@pytest.fixture
def write_spec(tmp_path):
    """write(text, name="spec.toml", out=None): the fit specification ``text`` as tmp_path/name,
    with [output] directory ``out`` (default tmp_path/out); returns its path."""

    def write(text, name="spec.toml", out=None):
        p = tmp_path / name
        p.write_text(text + f'\n[output]\ndirectory = "{out or tmp_path / "out"}"\n')
        return p

    return write


# ---- scheduling: make test runs files in pytest-xdist workers (--dist loadfile), which take the
# files in collection order when xdist's own reordering (by number of tests: the 7 tests of
# test_poi_likelihood.py, the longest file, came last) is off: the Makefile passes
# --no-loadscope-reorder. The compile-heavy files go first, longest first, so that the short ones
# fill the gaps at the end instead of one worker finishing a long file alone (seconds from `make
# test --durations=0`, 2026-12-07, with the loop emitters: 113, 76, 54, 50, 46, 45, 37, 33, 32, 32,
# 28, 27, 24, 20, 18, 17, 16).
HEAVY_FIRST = (
    "test_poi_likelihood.py",
    "test_belle2_full.py",
    "test_fuzz.py",
    "test_likelihood.py",
    "test_robustness.py",
    "test_decays.py",
    "test_gradients.py",
    "test_multihost.py",
    "test_darkphoton.py",
    "test_hypotest.py",
    "test_scan.py",
    "test_golden.py",
    "test_cli.py",
    "test_models.py",
    "test_cosmology.py",
    "test_sample.py",
    "test_inference.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept


def xla_flags(flag: str) -> str:
    """XLA_FLAGS for a child process: this process's flags (make test's optimisation level) with
    ``flag`` in place of any setting of the same flag."""
    name = flag.split("=")[0]
    kept = [f for f in os.environ.get("XLA_FLAGS", "").split() if f.split("=")[0] != name]
    return " ".join([*kept, flag])
