"""End-to-end tests of the hpjax command on small fits, and every error path of the fit-spec reader."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from hpjax.cli import build_parser, main
from hpjax.spec import SpecError, load_spec

ROOT = pathlib.Path(__file__).resolve().parents[1]

GOOD_TAIL = """prior = "log_uniform"
[likelihood]
dataset = "paper"
terms = ["belle2"]
nuisances = ["BR(B+->K+nunu)_SM"]
[task.fit]
n_starts = 2
[task.profile]
n_starts = 2
[task.profile.poi.sin_theta]
range = [3.0e-3, 1.2e-2]
points = 7
[task.sample]
num_warmup = 150
num_samples = 200
num_chains = 2
seed = 2
"""


@pytest.fixture(scope="module")
def good(tiny_spec):
    """A singlet fit of sin_theta to Belle II with fit, profile and sample tasks."""
    return tiny_spec + GOOD_TAIL


def test_every_shipped_fit_spec_is_valid():
    import tomllib

    from hpjax import fig3
    from hpjax.cli import hypotest

    specs = sorted((ROOT / "fits").glob("*.toml"))
    assert len(specs) >= 3
    for p in specs:
        raw = tomllib.loads(p.read_text())
        if "fig3" in raw:  # a figure-only spec (no likelihood): hpjax.fig3 reads it
            assert fig3.load_spec(p)["fig3"]
            continue
        if "hypotest" in raw:  # hpjax hypotest's own specification
            assert hypotest.read_spec(p)
            continue
        spec = load_spec(p)
        spec.build_likelihood()


@pytest.mark.parametrize(
    "edit,key,words",
    [
        (("[fit]", "[fitt]"), "fitt", "unknown key"),
        (('name = "singlet"', 'name = "triplet"'), "model.name", "valid"),
        (("m_chi = 0.0", ""), "model.parameters", "missing parameter"),
        (("y_D = 1.0", "y_D = -1.0"), "model.parameters.y_D", "outside the allowed range"),
        (("m_hD = 1.0", 'm_hD = "one"'), "model.parameters.m_hD", "must be a number"),
        (('scale = "log"', 'scale = "logarithmic"'), "free.sin_theta.scale", "valid"),
        (("range = [1.0e-4, 0.1]", "range = [0.1, 1.0e-4]"), "free.sin_theta.range", "must be <"),
        (("range = [1.0e-4, 0.1]", "range = [1.0e-4, 2.0]"), "free.sin_theta.range", "leaves the domain"),
        (("[free.sin_theta]", "[free.sin_thetaa]"), "free.sin_thetaa", "not a parameter"),
        (('terms = ["belle2"]', 'terms = ["belle3"]'), "likelihood.terms", "valid"),
        (('terms = ["belle2"]', 'terms = ["belle2", "belle2_full"]'), "likelihood.terms", "same measurement"),
        (
            ("[task.fit]", '[likelihood.belle2_full]\nnuisances = "floating"\n[task.fit]'),
            "likelihood.belle2_full.nuisances",
            "valid",
        ),
        (
            ("[task.fit]", "[likelihood.belle2_full]\nstep = 3\n[task.fit]"),
            "likelihood.belle2_full.step",
            "unknown key",
        ),
        (("[task.fit]", "[likelihood.belle2_full]\nsteps = 0\n[task.fit]"), "likelihood.belle2_full.steps", "[1, 50]"),
        (('dataset = "paper"', 'dataset = "newest"'), "likelihood.dataset", "valid"),
        (('nuisances = ["BR(B+->K+nunu)_SM"]', 'nuisances = ["m_top"]'), "likelihood.nuisances", "valid"),
        (("[task.fit]\nn_starts = 2", "[task.fit]\nn_starts = 0"), "task.fit.n_starts", ">= 1"),
        (("[task.fit]\nn_starts = 2", "[task.fit]\nn_start = 2"), "task.fit.n_start", "unknown key"),
        (("points = 7", "points = 1"), "task.profile.poi.sin_theta.points", ">= 2"),
        (("[task.profile.poi.sin_theta]", "[task.profile.poi.m_hD]"), "task.profile.poi.m_hD", "free parameter"),
    ],
)
def test_spec_errors_name_file_key_and_allowed(good, write_spec, edit, key, words):
    p = write_spec(good.replace(*edit))
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert msg.startswith("spec.toml: key '" + key + "'"), msg
    assert words in msg


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="no such fit specification"):
        load_spec(tmp_path / "nope.toml")
    p = tmp_path / "broken.toml"
    p.write_text("[model\n")
    with pytest.raises(SpecError, match="broken.toml: not valid TOML"):
        load_spec(p)


def test_cli_reports_spec_errors_before_computing(good, write_spec, tmp_path):
    p = write_spec(good.replace("y_D = 1.0", "y_D = -1.0"))
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(p)])
    msg = str(exc.value)
    assert "key 'model.parameters.y_D'" in msg and "allowed range" in msg and "\n" not in msg
    assert not (tmp_path / "out").exists()


def test_cli_help_for_every_command(capsys):
    # the installed entry point's module form once; every subcommand (new ones included) in-process
    r = subprocess.run([sys.executable, "-m", "hpjax.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: hpjax" in r.stdout
    commands = re.search(r"\{([\w,]+)\}", build_parser().format_usage()).group(1).split(",")
    assert {"fit", "profile", "sample", "cite", "demo", "predict", "paper", "bounds", "scan", "plot"} <= set(commands)
    for cmd in commands:
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0 and "usage: hpjax " + cmd in capsys.readouterr().out


def test_cli_and_plotting_import_no_private_names():
    from test_terms import ROOT as PKG
    from test_terms import _private_imports

    files = sorted((PKG / "cli").glob("*.py")) + sorted((PKG / "plotting").glob("*.py"))
    assert len(files) >= 10  # the walk of test_terms covers both packages too
    assert not [s for p in files for s in _private_imports(p)]


def test_cli_fit_profile_cite(good, write_spec, tmp_path, capsys):
    p = write_spec(good)
    out = tmp_path / "out"
    assert main(["fit", str(p)]) == 0
    fit = json.loads((out / "fit.json").read_text())
    assert fit["converged"] and fit["params"]["sin_theta"] == pytest.approx(6.02e-3, rel=0.01)
    assert fit["metadata"]["dataset"] == "paper" and fit["metadata"]["seed"] == 0
    assert "hpjax_version" in fit["metadata"] and (out / "fit.png").stat().st_size > 1000

    assert main(["profile", str(p)]) == 0
    prof = json.loads((out / "profile.json").read_text())
    lo, hi = prof["interval_68"][0]
    assert lo < 6.02e-3 < hi and (out / "profile.png").exists()

    assert main(["cite", str(p)]) == 0
    text = capsys.readouterr().out
    assert "arXiv:2312.00982" in text and "2311.14647" in text and "PDG" in text


@pytest.mark.slow  # make test runs `hpjax sample` in test_robustness (Ctrl-C keeps the finished draws)
def test_cli_sample_summary(good, write_spec, tmp_path, capsys):
    p = write_spec(good)
    out = tmp_path / "out"
    rc = main(["sample", str(p)])
    assert (out / "posterior.nc").exists() and (out / "corner.png").exists()
    text = capsys.readouterr().out
    assert "R-hat" in text and "divergences" in text
    # issue 10: physical values in scientific notation, the whitened nuisance_z only on request
    # (a PROBLEM line may name the sampled variable it is about)
    assert not [ln for ln in text.splitlines() if "nuisance_z[" in ln and "PROBLEM" not in ln]
    row = next(ln for ln in text.splitlines() if ln.startswith("BR_Bp_to_Kpnunu_SM "))
    assert "e-06" in row.split()[1], row
    assert rc in (0, 1)  # 1 only when diagnostics fail, which the output then says
    if rc == 1:
        assert "PROBLEM" in text


def test_cli_predict_and_bad_parameters(capsys):
    assert main(["predict", "singlet", "m_hD=1", "sin_theta=6e-3", "y_D=1", "m_chi=0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 1e-5 < out["BR(B+->K+inv)"]["unified"] < 3e-5
    with pytest.raises(SystemExit, match="allowed range"):
        main(["predict", "singlet", "m_hD=1", "sin_theta=6", "y_D=1", "m_chi=0"])
    with pytest.raises(SystemExit, match="unknown parameter"):
        main(["predict", "singlet", "m_h=1"])


def test_persistent_cache_directory(monkeypatch, tmp_path):
    """hpjax commands keep compiled programs on disk: JAX_COMPILATION_CACHE_DIR when set (make's
    .cache/jax), else HPJAX_CACHE_DIR; HPJAX_CACHE_DIR=none switches the cache off."""
    import jax

    from hpjax.cli.main import persistent_cache

    saved = (jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs)
    try:
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "make"))
        assert persistent_cache() == str(tmp_path / "make")
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
        monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv("HPJAX_CACHE_DIR", "none")
        assert persistent_cache() is None and jax.config.jax_compilation_cache_dir is None
        monkeypatch.setenv("HPJAX_CACHE_DIR", str(tmp_path / "mine"))
        assert persistent_cache() == str(tmp_path / "mine") == jax.config.jax_compilation_cache_dir
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.1
    finally:
        jax.config.update("jax_compilation_cache_dir", saved[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", saved[1])


def test_xla_cpu_flags_respect_the_users_choice(monkeypatch):
    """prefer_wide_vectors adds 512-bit vectors on an AVX-512 CPU only (and never over a width the
    user chose); use_all_cpu_cores one device per usable core unless XLA_FLAGS sets a count."""
    from hpjax.inference import distributed as dist

    monkeypatch.setattr(dist, "_has_avx512", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_prefer_vector_width=256")
    import os

    assert not dist.prefer_wide_vectors()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_prefer_vector_width=256"
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3")
    assert dist.prefer_wide_vectors()

    assert os.environ["XLA_FLAGS"].split() == [
        "--xla_force_host_platform_device_count=3",
        "--xla_cpu_prefer_vector_width=512",
    ]
    assert not dist.use_all_cpu_cores()  # a count is already chosen
    monkeypatch.setattr(dist, "_has_avx512", lambda: False)
    monkeypatch.setenv("XLA_FLAGS", "")
    assert not dist.prefer_wide_vectors() and os.environ["XLA_FLAGS"] == ""
    assert dist.use_all_cpu_cores()
    assert os.environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count={len(os.sched_getaffinity(0))}"


def test_forward_scans_fuse_reductions(monkeypatch, tmp_path):
    """fuse_reductions keeps reductions out of YNNPACK (never over the user's choice, only where
    jaxlib has the flag: XLA aborts on an unknown one); a forward scan then takes blocks of
    FORWARD_BLOCK on a CPU, a profiled one CPU_BLOCK; `hpjax scan` asks for it for a forward
    specification only, read before JAX starts."""
    import os

    from hpjax.cli.scan import _forward_only
    from hpjax.inference import distributed as dist
    from hpjax.inference.scan import CPU_BLOCK, FORWARD_BLOCK, default_block_size

    assert dist._jaxlib_knows(dist._YNN_FLAG) in (True, False)
    assert not dist._jaxlib_knows("xla_cpu_no_such_flag_in_any_jaxlib")
    monkeypatch.setattr(dist, "_jaxlib_knows", lambda flag: True)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert not dist.reductions_fused() and default_block_size("cpu") == CPU_BLOCK
    assert dist.fuse_reductions()
    assert os.environ["XLA_FLAGS"].split() == [
        "--xla_force_host_platform_device_count=2",
        "--xla_cpu_experimental_ynn_fusion_type=dot",
    ]
    assert dist.reductions_fused() and not dist.fuse_reductions()  # set once
    assert default_block_size("cpu") == FORWARD_BLOCK == 1024
    assert default_block_size("cpu", profile=("y_D",)) == CPU_BLOCK and default_block_size("gpu") == 0
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot,reduce")  # the user's
    assert not dist.fuse_reductions() and not dist.reductions_fused()
    monkeypatch.setattr(dist, "_jaxlib_knows", lambda flag: False)
    monkeypatch.setenv("XLA_FLAGS", "")
    assert not dist.fuse_reductions() and os.environ["XLA_FLAGS"] == ""

    assert _forward_only(ROOT / "fits" / "fig1_unified.toml")
    assert not _forward_only(ROOT / "fits" / "belle2_full_scan.toml")  # nuisances profiled at every point
    prof = tmp_path / "p.toml"
    prof.write_text('[task.scan]\nprofile = ["y_D"]\n')
    assert not _forward_only(prof) and not _forward_only(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[task.scan\n")
    assert not _forward_only(bad)
