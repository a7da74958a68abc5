"""Issue 10: bad input is one clear line, scans resume whatever the chunk size and survive corrupt
chunks, Ctrl-C ends with one line saying what was kept (never a traceback or a segfault), and
the command's JSON is strict. Every test reproduces a defect of the issue (failing before its fix)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import xla_flags

import hpjax
from hpjax.cli import main
from hpjax.inference.scan import scan
from hpjax.spec import SpecError, load_spec

ROOT = pathlib.Path(__file__).resolve().parents[1]

SPEC_TAIL = """
[likelihood]
dataset = "paper"
terms = ["belle2", "koto"]
nuisances = ["BR(B+->K+nunu)_SM"]
[task.fit]
n_starts = 2
[task.sample]
num_warmup = 60
num_samples = 60
num_chains = 2
segments = 3
[task.scan]
observables = ["BR(B+->K+inv)"]
[task.scan.axes.sin_theta]
range = [1.0e-3, 3.0e-2]
points = 40
"""


@pytest.fixture(scope="module")
def spec(tiny_spec):
    """A singlet fit of sin_theta to Belle II and KOTO, with fit, sample and scan tasks."""
    return tiny_spec + SPEC_TAIL


# ---- input checks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "edit,key,words",
    [
        (('terms = ["belle2", "koto"]', 'terms = "belle2"'), "likelihood.terms", 'write ["belle2"]'),
        (('nuisances = ["BR(B+->K+nunu)_SM"]', 'nuisances = "m_t"'), "likelihood.nuisances", "list of strings"),
        (('observables = ["BR(B+->K+inv)"]', 'observables = "BR(B+->K+inv)"'), "task.scan.observables", "list"),
        (("[task.fit]", '[plot]\nkind = "fig1"\nformats = "png"\n[task.fit]'), "plot.formats", "list of strings"),
        (("[task.fit]", "[likelihood.conventions]\n[task.fit]"), "likelihood.conventions", None),
    ],
)
def test_spec_string_where_a_list_is_expected(tmp_path, edit, key, words, spec, write_spec):
    text = spec.replace(*edit)
    if key == "likelihood.conventions":  # a string where a table is expected
        text = spec.replace('terms = ["belle2", "koto"]', 'terms = ["belle2", "koto"]\nconventions = "step"')
        words = "must be a table"
    with pytest.raises(SpecError) as exc:
        load_spec(write_spec(text))
    msg = str(exc.value)
    assert msg.startswith(f"spec.toml: key '{key}'") and words in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "edit,key",
    [
        (
            ('nuisances = ["BR(B+->K+nunu)_SM"]', 'nuisances = ["BR(B+->K+nunu)_SM", "BR(B+->K+nunu)_SM"]'),
            "likelihood.nuisances",
        ),
        (('terms = ["belle2", "koto"]', 'terms = ["belle2", "koto", "belle2"]'), "likelihood.terms"),
        (
            ('observables = ["BR(B+->K+inv)"]', 'observables = ["BR(B+->K+inv)", "BR(B+->K+inv)"]'),
            "task.scan.observables",
        ),
    ],
)
def test_spec_duplicates_are_an_error(tmp_path, edit, key, spec, write_spec):
    # a duplicated nuisance would count its constraint twice; duplicated free parameters are a
    # TOML error already (one table per [free.<param>])
    with pytest.raises(SpecError, match=rf"spec.toml: key '{key}': .*listed more than once"):
        load_spec(write_spec(spec.replace(*edit)))


def test_spec_start_value_outside_its_free_range(tmp_path, spec, write_spec):
    with pytest.raises(SpecError) as exc:
        load_spec(write_spec(spec.replace("sin_theta = 6.0e-3", "sin_theta = 0.5")))
    assert str(exc.value) == (
        "spec.toml: key 'model.parameters.sin_theta': start value 0.5 is outside the free "
        "range [0.0001, 0.1] of free.sin_theta"
    )


def test_binary_and_non_utf8_spec_files_are_one_line(tmp_path):
    p = tmp_path / "latin1.toml"
    p.write_bytes('[fit]\nname = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(SpecError, match=r"^latin1.toml: not a UTF-8 text file \(byte 17 is 0xe9\)"):
        load_spec(p)
    b = tmp_path / "binary.toml"
    b.write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    with pytest.raises(SpecError, match=r"^binary.toml: not a text file"):
        load_spec(b)
    r = subprocess.run([sys.executable, "-m", "hpjax.cli", "fit", str(p)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "UTF-8" in r.stderr
    assert "Traceback" not in r.stderr


def test_predict_parameter_given_twice():
    with pytest.raises(SystemExit, match=r"parameter m_hD given twice \(m_hD=1 and 'm_hD=2'\)"):
        main(["predict", "singlet", "m_hD=1", "m_hD=2", "sin_theta=6e-3", "y_D=1", "m_chi=0"])


def test_predict_json_is_strict(monkeypatch, capsys):
    from hpjax.cli import demo

    # whatever the physics gives (a stable h_D has tau = inf), the output is RFC 8259 JSON
    monkeypatch.setattr(
        demo,
        "observable_table",
        lambda model, inputs: [("tau_hD", float("inf"), -float("inf")), ("BR(hD->inv)", float("nan"), 0.5)],
    )
    assert main(["predict", "singlet", "m_hD=1", "sin_theta=6e-3", "y_D=1", "m_chi=0", "--json"]) == 0
    text = capsys.readouterr().out

    def bare(word):
        raise AssertionError(f"bare {word} in the JSON")

    out = json.loads(text, parse_constant=bare)
    assert out == {"tau_hD": {"unified": "inf", "paper": "-inf"}, "BR(hD->inv)": {"unified": None, "paper": 0.5}}


# ---- output directory -----------------------------------------------------------------------
def test_unwritable_output_directory_fails_before_computing(tmp_path, spec, write_spec):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    p = write_spec(spec, out=blocker / "out")
    t0 = time.perf_counter()
    for cmd in ("fit", "sample", "scan"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, str(p)])
        assert "output directory" in str(exc.value) and "cannot be written" in str(exc.value), cmd
    assert time.perf_counter() - t0 < 20  # no likelihood was compiled (a fit takes longer)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(SystemExit, match="cannot be written"):
            main(["fit", str(write_spec(spec, name="ro.toml", out=ro))])


# ---- scans: resume whatever the chunk size, corrupt chunks ----------------------------------
LIK = None


def _lik():
    global LIK
    if LIK is None:
        LIK = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2"], free=("sin_theta",))
    return LIK


AXES = {"sin_theta": np.geomspace(1e-3, 3e-2, 12)}


def test_chunk_size_must_be_positive(tmp_path, spec, write_spec):
    for bad in (0, -5, 2.5):
        with pytest.raises(ValueError, match=f"chunk_size = {bad!r} is outside the allowed range"):
            scan(_lik(), AXES, tmp_path, chunk_size=bad, progress=False)
    p = write_spec(spec)
    for bad in ("0", "-5"):
        r = subprocess.run(
            [sys.executable, "-m", "hpjax.cli", "scan", str(p), "--chunk-size", bad], capture_output=True, text=True
        )
        assert r.returncode == 2 and "--chunk-size" in r.stderr and "integer >= 1" in r.stderr
    assert not (tmp_path / "out" / "chunks").exists()


def test_scan_resumes_with_another_chunk_size(tmp_path):
    clean = scan(_lik(), AXES, tmp_path / "clean", chunk_size=4, progress=False)
    assert scan(_lik(), AXES, tmp_path / "a", chunk_size=4, progress=False, max_chunks=2) is None
    # the rerun cuts differently (the default chunk size follows the free memory): it must reuse
    # the 8 points already computed, not refuse the directory
    lines = []
    ds = scan(_lik(), AXES, tmp_path / "a", chunk_size=3, progress=False, log=lines.append)
    assert lines == []
    timing = json.loads((tmp_path / "a" / "scan_timing.json").read_text())
    assert timing["computed_points"] == 4
    np.testing.assert_allclose(ds["log_likelihood"].values, clean["log_likelihood"].values, rtol=1e-13)
    # and the same scan in a third cut computes nothing
    os.remove(tmp_path / "a" / "scan.nc")
    ds2 = scan(_lik(), AXES, tmp_path / "a", chunk_size=5, progress=False)
    assert json.loads((tmp_path / "a" / "scan_timing.json").read_text())["computed_points"] == 0
    assert np.array_equal(ds2["log_likelihood"].values, ds["log_likelihood"].values)
    # a different grid in the same directory is still refused
    with pytest.raises(ValueError, match="different scan"):
        scan(_lik(), {"sin_theta": np.geomspace(1e-3, 3e-2, 13)}, tmp_path / "a", chunk_size=4, progress=False)


def test_corrupt_chunks_are_recomputed_with_one_line_each(tmp_path):
    out = tmp_path / "c"
    clean = scan(_lik(), AXES, out, chunk_size=2, progress=False)
    files = sorted((out / "chunks").glob("points_*.npz"))
    assert len(files) == 6
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
    files[1].write_bytes(b"")  # zero-length
    z = dict(np.load(files[2]))
    np.savez(files[3], **{**z, "log_likelihood": np.full(2, np.nan)})  # ln L NaN everywhere
    z["log_likelihood"] = z["log_likelihood"][:1]  # wrong shape
    np.savez(files[2], **z)
    os.remove(out / "scan.nc")
    lines = []
    ds = scan(_lik(), AXES, out, chunk_size=2, progress=False, log=lines.append)
    assert len(lines) == 4, lines
    for f, why in zip(files[:4], ("unreadable", "zero-length", "wrong shape", "NaN at every point")):
        assert any(f.name in ln and why in ln and "computed again" in ln for ln in lines), (why, lines)
    assert json.loads((out / "scan_timing.json").read_text())["computed_points"] == 8
    np.testing.assert_allclose(ds["log_likelihood"].values, clean["log_likelihood"].values, rtol=1e-13)
    assert np.isfinite(ds["log_likelihood"].values).all()


def test_plot_refuses_a_scan_of_another_specification(tmp_path, capsys, spec, write_spec):
    text = spec.replace('terms = ["belle2", "koto"]', 'terms = ["belle2", "koto"]\nconventions = { koto = "step" }')
    text = text.replace("[task.fit]", '[plot]\nkind = "fig1"\nformats = ["png"]\n[task.fit]')
    text = text.replace("[free.sin_theta]", "[free.m_hD]\nrange = [0.01, 20.0]\n[free.sin_theta]")
    text = text.replace(
        "[task.scan.axes.sin_theta]",
        "[task.scan.axes.m_hD]\nrange = [0.1, 8.0]\npoints = 5\n[task.scan.axes.sin_theta]",
    ).replace("points = 40", "points = 6")
    p = write_spec(text)
    assert main(["scan", str(p), "--quiet"]) == 0
    assert main(["plot", str(p)]) == 0
    write_spec(text.replace("points = 6", "points = 7"))
    with pytest.raises(SystemExit, match=r"is not the scan of spec.toml \(its grid differ\)"):
        main(["plot", str(p)])
    write_spec(text.replace('terms = ["belle2", "koto"]', 'terms = ["belle2", "koto", "na62"]'))
    with pytest.raises(SystemExit, match=r"is not the scan of spec.toml \(its terms differ\)"):
        main(["plot", str(p)])


# ---- Ctrl-C -----------------------------------------------------------------------------------
def _interrupt(cmd, env, ready, delay, timeout=180):
    """Start ``cmd``, wait for the stdout line containing ``ready``, sleep ``delay``, send SIGINT."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.time()
    for line in proc.stdout:
        if ready in line:
            break
        assert time.time() - t0 < timeout
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


# slow (20 s). Under the parallel suite the SIGINT was sometimes lost (rc 0, the scan ran to its
# end). A KeyboardInterrupt raised in JAX's gc callback or in a bare except of its tracing code is
# dropped (benchmarks/NOTES.md 2026-12-08); since then scan() latches every SIGINT and stops at its
# next chunk (hpjax.inference.interrupt; tested below without timing)
@pytest.mark.slow
def test_ctrl_c_during_compilation_and_scan(tmp_path):
    spec = (ROOT / "fits" / "fig1_unified.toml").read_text()
    spec = spec.replace("points = 120", "points = 40").replace("points = 90", "points = 30")
    p = tmp_path / "f.toml"
    p.write_text(spec.replace('directory = "results/fig1_unified"', f'directory = "{tmp_path / "out"}"'))
    cmd = [sys.executable, "-m", "hpjax.cli", "scan", "--quiet", "--chunk-size", "24", str(p)]
    # a cold compilation cache: the SIGINT lands while XLA compiles the chunk function (this
    # segfaulted, rc -11, in every try before the fix)
    # one CPU device (the SIGINT was once lost with one device per core: see above)
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cold_cache"),
        "HPJAX_SCAN_THROTTLE_S": "0.3",
        "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=1"),
    }
    rc, err = _interrupt(cmd, env, "scanning", 1.0)
    assert rc == 130, (rc, err[-2000:])
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("hpjax scan: interrupted; ")
    # midway through the scan (warm cache): the line says how many points are kept, a rerun resumes
    env["JAX_COMPILATION_CACHE_DIR"] = os.environ.get("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))
    chunks = tmp_path / "out" / "chunks"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("points_*.npz"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    last = err.strip().splitlines()[-1]
    kept = int(last.split("; ")[1].split(" of ")[0])
    assert 3 * 24 <= kept < 1200 and "rerun `hpjax scan" in last, last
    r = subprocess.run(cmd, capture_output=True, text=True, env={**env, "HPJAX_SCAN_THROTTLE_S": "0"})
    assert r.returncode == 0 and "cannot be used" not in r.stderr
    timing = json.loads((tmp_path / "out" / "scan_timing.json").read_text())
    assert timing["computed_points"] == 1200 - kept


def test_ctrl_c_in_sample_keeps_the_finished_draws(tmp_path, monkeypatch, spec, write_spec):
    """The second compiled stage (warmup + segment 1, segment 2) is interrupted: hpjax sample keeps the
    first segment's draws in posterior.nc and says so in one line (exit status 130). Then the same
    with a Ctrl-C that is swallowed (as JAX's tracing can: hpjax.inference.interrupt) during the
    second stage: the command stops after it, with the first two segments' draws."""
    import arviz as az

    from hpjax.inference import nuts

    real_run, calls, how = nuts.run_stage, [], {"ctrl_c": "raised"}

    def run(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            if how["ctrl_c"] == "raised":
                raise KeyboardInterrupt
            try:
                signal.raise_signal(signal.SIGINT)
            except:  # noqa: E722 - as a bare except in JAX's tracing code does
                pass
        return real_run(*a, **k)

    monkeypatch.setattr(nuts, "run_stage", run)
    text = spec.replace('terms = ["belle2", "koto"]', 'terms = ["belle2"]')
    for ctrl_c, out, draws in (("raised", tmp_path / "out", 20), ("swallowed", tmp_path / "out2", 40)):
        how["ctrl_c"] = ctrl_c
        calls.clear()
        p = write_spec(text, out=out)
        with pytest.raises(SystemExit) as exc:
            main(["sample", str(p)])
        assert exc.value.code == 130, ctrl_c
        idata = az.from_netcdf(str(out / "posterior.nc"))
        assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == draws  # 60 in 3 segments
        assert f"after {draws} of 60 draws per chain" in idata.attrs["interrupted"]
        assert (out / "corner.png").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_swallowed_ctrl_c_is_raised_at_the_next_check(monkeypatch):
    """hpjax.inference.interrupt: a SIGINT whose KeyboardInterrupt a bare except or an ignored
    callback (JAX's gc callback: Python prints "Exception ignored in" and drops it) swallowed is
    raised by check() inside the latch, once; outside a latch nothing is remembered."""
    from hpjax.inference import interrupt

    class RaisesInDel:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)

    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)  # Python's own hook prints and drops
    before = signal.getsignal(signal.SIGINT)
    with interrupt.sigint_latch():
        interrupt.check()
        try:
            signal.raise_signal(signal.SIGINT)
        except:  # noqa: E722
            pass
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        interrupt.check()  # one Ctrl-C, one KeyboardInterrupt
        RaisesInDel()  # dropped at once: its __del__'s KeyboardInterrupt goes to the unraisable hook
        assert len(dropped) == 1 and issubclass(dropped[0].exc_type, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is before
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass
    interrupt.check()


def test_scan_stops_at_a_ctrl_c_that_tracing_swallowed(tmp_path, monkeypatch):
    """A Ctrl-C swallowed while the scan's chunk function is traced stops the scan before its
    first chunk (ScanInterrupted, nothing computed), not after its last."""
    import hpjax.inference.scan as scan_module
    from hpjax.inference.scan_store import ScanInterrupted

    real = scan_module.chunk_function

    def swallowing(*a, **k):
        try:
            signal.raise_signal(signal.SIGINT)
        except:  # noqa: E722
            pass
        return real(*a, **k)

    monkeypatch.setattr(scan_module, "chunk_function", swallowing)
    with pytest.raises(ScanInterrupted) as exc:
        scan(_lik(), AXES, tmp_path / "s", chunk_size=4, progress=False)
    assert exc.value.done == 0 and exc.value.total == 12
    assert not list((tmp_path / "s" / "chunks").glob("points_*.npz"))


def test_arviz_future_warning_is_silenced():
    code = (
        "import warnings; warnings.simplefilter('error', FutureWarning)\n"
        "from hpjax.inference.sample import _arviz; az = _arviz(); print(az.__name__)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "arviz" and "FutureWarning" not in r.stderr, r.stderr
