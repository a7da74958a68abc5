"""Shared fixtures. Compile-heavy work is done once per session (jitted, vmapped batches)."""

import os
import pathlib
import sys

import jax

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
