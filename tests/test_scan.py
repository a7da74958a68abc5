"""Grid scans (sharding, chunking, bounded memory, resume after a kill) and the paper's figures."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from conftest import xla_flags

import hpjax
from hpjax.inference.scan import CPU_BLOCK, FORWARD_BLOCK, default_block_size, scan
from hpjax.plotting import draw

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, json, numpy as np, hpjax, jax
from hpjax.inference.scan import scan
lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2"])
axes = {"m_hD": np.geomspace(0.05, 8.0, int(sys.argv[2])), "sin_theta": np.geomspace(1e-4, 0.1, 10)}
ds = scan(lik, axes, sys.argv[1], chunk_size=int(sys.argv[3]), observables=["BR(B+->K+inv)"], progress=False)
import resource
print(json.dumps({"devices": len(jax.devices()), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(tmp, n_mass=12, chunk=16, devices=1):
    env = dict(os.environ)
    env["XLA_FLAGS"] = xla_flags(f"--xla_force_host_platform_device_count={devices}")
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp), str(n_mass), str(chunk)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def _load(path):
    with xr.open_dataset(path / "scan.nc", engine="h5netcdf") as ds:
        return ds.load()


def test_sharded_over_four_cpu_devices_equals_unsharded(tmp_path):
    info4 = _run(tmp_path / "four", devices=4)
    info1 = _run(tmp_path / "one", devices=1)
    assert info4["devices"] == 4 and info1["devices"] == 1
    a, b = _load(tmp_path / "four"), _load(tmp_path / "one")
    assert a.attrs["n_devices"] == 4
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        assert np.array_equal(np.isfinite(x), np.isfinite(y))
        f = np.isfinite(x)
        np.testing.assert_allclose(x[f], y[f], rtol=1e-14, atol=0)


def test_chunked_equals_unchunked(tmp_path, monkeypatch):
    lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2", "belle_kstar"])
    axes = {"m_hD": np.geomspace(0.1, 8.0, 9), "sin_theta": np.geomspace(1e-4, 0.1, 7)}
    a = scan(lik, axes, tmp_path / "a", chunk_size=5, progress=False)
    b = scan(lik, axes, tmp_path / "b", chunk_size=1000, progress=False)
    assert a.attrs["n_chunks"] == 13 and b.attrs["n_chunks"] == 1
    # the default chunk (from the free memory, here 40 points) is evened out over the grid: 63 points
    # in 2 chunks of 32, not 40 + 23 padded to 40
    monkeypatch.setattr("hpjax.inference.scan.auto_chunk_size", lambda: 40)
    c = scan(lik, axes, tmp_path / "c", progress=False)
    assert (c.attrs["n_chunks"], c.attrs["chunk_size"]) == (2, 32)
    np.testing.assert_allclose(c["log_likelihood"].values, b["log_likelihood"].values, rtol=1e-13, atol=0)
    assert a.attrs["block_size"] == default_block_size("cpu") in (CPU_BLOCK, FORWARD_BLOCK)  # recorded
    for k in a.data_vars:  # XLA may vectorise a 5-point and a 1000-point batch differently: ~1e-15
        np.testing.assert_allclose(a[k].values, b[k].values, rtol=1e-13, atol=0)
    assert a["log_likelihood"].dims == ("m_hD", "sin_theta")


@pytest.mark.slow  # make bench records the peak memory of the 1e6-point scan
def test_peak_memory_stays_bounded_as_the_grid_grows(tmp_path):
    small = _run(tmp_path / "s", n_mass=20, chunk=64)
    large = _run(tmp_path / "l", n_mass=400, chunk=64)  # 20x the points, same chunk
    assert large["rss_mb"] - small["rss_mb"] < 60, (small, large)


@pytest.mark.slow  # make test: test_multihost kills a scan process and resumes it
def test_resume_after_kill_gives_the_same_file(tmp_path):
    spec = (ROOT / "fits" / "fig1_unified.toml").read_text()
    spec = spec.replace("points = 120", "points = 40").replace("points = 90", "points = 30")
    runs = {}
    for name in ("killed", "clean"):
        p = tmp_path / f"{name}.toml"
        p.write_text(spec.replace('directory = "results/fig1_unified"', f'directory = "{tmp_path / name}"'))
        runs[name] = p
    cmd = [sys.executable, "-m", "hpjax.cli", "scan", "--quiet", "--chunk-size", "24"]
    # a pause after every chunk makes "midway" certain: without it a warm compilation cache can
    # finish all 50 chunks between two polls
    env = {**os.environ, "HPJAX_SCAN_THROTTLE_S": "0.2"}
    proc = subprocess.Popen(cmd + [str(runs["killed"])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    chunks = tmp_path / "killed" / "chunks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("points_*.npz"))) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(chunks.glob("points_*.npz")))
    assert 5 <= done < 50, done  # killed midway: some chunks written, not all
    assert not (tmp_path / "killed" / "scan.nc").exists()
    subprocess.run(cmd + [str(runs["killed"])], check=True, capture_output=True)
    subprocess.run(cmd + [str(runs["clean"])], check=True, capture_output=True)
    a, b = _load(tmp_path / "killed"), _load(tmp_path / "clean")
    assert a.identical(b.assign_attrs(a.attrs)) and set(a.attrs) == set(b.attrs)
    for k in a.attrs:
        if k not in ("fit_spec", "fit_spec_text", "identity"):  # they name the two output folders
            assert a.attrs[k] == b.attrs[k], k


@pytest.fixture(scope="module")
def fig1_scan(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig1")
    lik = hpjax.Likelihood(
        hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0),
        terms=["belle2", "belle_kstar", "na62", "koto"],
        conventions={t: "step" for t in ("belle_kstar", "na62", "koto")},
    )
    axes = {"m_hD": np.geomspace(0.01, 20.0, 48), "sin_theta": np.geomspace(1e-4, 0.3, 40)}
    return scan(lik, axes, out, observables=["BR(B+->K+inv)", "BR(h->inv)"], progress=False), out


def test_fig1_content(fig1_scan):
    ds, out = fig1_scan
    s = draw("fig1", ds, out / "fig1", formats=("png", "pdf"))
    assert all(pathlib.Path(f).stat().st_size > 5000 for f in s["files"])
    m, st = s["m_hD"], s["sin_theta"]
    i1 = int(np.argmin(abs(np.log(m / 1.0))))
    in_band = st[s["band"][i1]]
    assert in_band.min() < 6e-3 < in_band.max()  # the band sits at sin(theta) ~ 6e-3 for m_hD = 1 GeV
    j = int(np.argmin(abs(np.log(st / 6e-3))))
    koto = s["excluded_koto"][:, j]
    assert koto[np.argmin(abs(m - 0.3))] and not koto[np.argmin(abs(m - 0.6))]
    end = m[np.where(koto)[0].max()]
    assert 0.33 < end < 0.5  # the KOTO region ends near 0.4 GeV
    assert s["excluded_na62"][np.argmin(abs(m - 0.05)), j]


def _drawn_matches_grid(paths, xs, ys, mask):
    """At grid points whose 8 neighbours share their mask value (away from the boundary), the
    filled-contour polygons contain the point iff the grid mask is True."""
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    inside = np.zeros(mask.shape, dtype=bool)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    for p in paths:
        inside |= p.contains_points(pts).reshape(mask.shape)
    m = mask.astype(int)
    same = np.ones(mask.shape, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            same &= np.roll(np.roll(m, di, 0), dj, 1) == m
    same[[0, -1], :] = same[:, [0, -1]] = False  # edges: roll wraps around
    same[:, 0] = same[:, -1] = False
    assert same.sum() > 0.5 * mask.size  # most of the grid is tested
    bad = same & (inside != mask)
    assert not bad.any(), np.argwhere(bad)[:5]
    return inside


def test_regions_are_filled_contours_matching_the_grid(fig1_scan, tmp_path):
    ds, _ = fig1_scan
    s = draw("fig1", ds, tmp_path / "fig1", formats=("png",))
    m, st = s["m_hD"], s["sin_theta"]
    for key in ("band", "excluded_koto", "excluded_na62", "excluded_belle_kstar"):
        paths = s[f"paths_{key}"]
        assert paths and s[key].any(), key
        _drawn_matches_grid(paths, m, st, s[key])
    # the band (a smooth Delta chi2) is interpolated: its edge crosses the grid lines at varying
    # fractions of a cell, not at the cells' midpoints as a 0/1 mask (or a step limit) would
    v = np.concatenate([p.vertices for p in s["paths_band"]])
    lx = np.log(v[:, 0])
    k = np.clip(np.searchsorted(np.log(m), lx) - 1, 0, len(m) - 2)
    frac = (lx - np.log(m[k])) / (np.log(m[k + 1]) - np.log(m[k]))
    off_grid = (frac > 1e-6) & (frac < 1 - 1e-6)
    assert off_grid.sum() > 10 and np.std(frac[off_grid]) > 0.1
    # the band's edge sits between the last grid point inside and the first outside (log space)
    i = int(np.argmin(abs(np.log(m / 1.0))))
    col = s["band"][i]
    j_top = np.where(col)[0].max()
    from hpjax.plotting import region_paths

    paths = region_paths(m, st, -2 * ds["logL_belle2"].values, 4.0)
    probe = np.geomspace(st[j_top], st[j_top + 1], 9)[1:-1]
    inside = np.array([any(p.contains_point((m[i], y)) for p in paths) for y in probe])
    assert inside[0] and not inside[-1] and np.all(np.diff(inside.astype(int)) <= 0)


def test_scan_observables_are_predict(fig1_scan):
    """A scan's observables come from the likelihood's own prediction (a q^2 integral that a term
    and an observable share is computed once): the numbers of hpjax.predict at the same points."""
    ds, _ = fig1_scan
    m, s = ds["m_hD"].values[::7], ds["sin_theta"].values[::9]
    mm, ss = np.meshgrid(m, s, indexing="ij")
    names = ["BR(B+->K+inv)", "BR(h->inv)"]
    want = hpjax.predict(hpjax.SingletHiggsPortal(mm, ss, 1.0, 0.0), observables=names)
    for k in names:
        np.testing.assert_allclose(ds[f"obs_{k}"].values[::7, ::9], want[k], rtol=1e-13, atol=0)


@pytest.mark.slow  # make test: test_fig1_content (the same drawing code); make demo draws Fig. 1
def test_fig2_and_fig4_content(tmp_path):
    lik2 = hpjax.Likelihood(
        hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2", "lfu"], free=("sin_theta", "y_D")
    )
    ds2 = scan(
        lik2,
        {"sin_theta": np.geomspace(1e-3, 3e-2, 20), "y_D": np.geomspace(1e-6, 1.0, 25)},
        tmp_path / "f2",
        observables=["BR(B+->K+inv)"],
        progress=False,
    )
    s2 = draw("fig2", ds2, tmp_path / "fig2", formats=("png",))
    _drawn_matches_grid(s2["paths_band"], s2["sin_theta"], s2["y_D"], s2["band"])
    _drawn_matches_grid(s2["paths_excluded_lfu"], s2["sin_theta"], s2["y_D"], s2["excluded_lfu"])
    j = int(np.argmin(abs(np.log(s2["sin_theta"] / 6e-3))))
    y = s2["y_D"]
    assert s2["excluded_lfu"][j, y < 3e-5].all() and not s2["excluded_lfu"][j, y > 1e-3].any()

    lik4 = hpjax.Likelihood(
        hpjax.DarkAbelianHiggs(1.0, 6e-3, 50.0, 0.1),
        terms=["belle2", "koto"],
        free=("m_hD", "sin_theta", "v_D"),
        conventions={"koto": "step"},
    )
    ds4 = scan(
        lik4,
        {"m_hD": np.geomspace(0.05, 20.0, 24), "sin_theta": np.geomspace(1e-4, 0.3, 20), "v_D": np.array([10.0, 50.0])},
        tmp_path / "f4",
        observables=["BR(B+->K+inv)", "BR(h->inv)"],
        progress=False,
    )
    s4 = draw("fig4", ds4, tmp_path / "fig4", formats=("png",))
    assert len(s4["panels"]) == 2 and pathlib.Path(s4["files"][0]).exists()
    for panel in s4["panels"]:
        for key in ("band", "excluded_koto"):
            _drawn_matches_grid(panel[f"paths_{key}"], ds4["m_hD"].values, ds4["sin_theta"].values, panel[key])
    # the invisible Higgs width scales as (sin theta / v_D)^2: the lines sit 5x lower in sin(theta) at v_D = 10
    h = ds4["obs_BR(h->inv)"].values
    k = int(np.argmin(abs(ds4["m_hD"].values - 1.0)))
    assert h[k, 0, 0] / h[k, 0, 1] == pytest.approx(25.0, rel=0.01)  # sin = 1e-4: BR << 1, linear in the width


def test_plot_cli_needs_a_scan(tmp_path):
    spec = (
        (ROOT / "fits" / "fig1_unified.toml")
        .read_text()
        .replace('directory = "results/fig1_unified"', f'directory = "{tmp_path / "none"}"')
    )
    p = tmp_path / "f.toml"
    p.write_text(spec)
    r = subprocess.run([sys.executable, "-m", "hpjax.cli", "plot", str(p)], capture_output=True, text=True)
    assert r.returncode != 0 and "run `hpjax scan" in r.stderr
