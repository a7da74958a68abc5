"""Multi-process scans (issue 16): two processes on localhost (jax.distributed, one CPU device each)
give the single-process scan.nc, and a rerun after one process was killed mid-scan completes it."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from conftest import xla_flags

import hpjax
from hpjax.inference.distributed import parse_spec
from hpjax.inference.scan import scan

N_POINTS = 24
CHUNK = 4

SCRIPT = """
import sys
N_POINTS, CHUNK = int(sys.argv[3]), int(sys.argv[4])
from hpjax.inference.distributed import fuse_reductions, initialize
fuse_reductions()  # as `hpjax scan` of a forward spec: blocks of FORWARD_BLOCK where jaxlib has the flag
initialize(sys.argv[1])  # "127.0.0.1:PORT,2,ID", before any JAX computation
import jax, numpy as np, hpjax
from hpjax.inference.scan import scan
assert jax.process_count() == 2 and len(jax.devices()) == 2 and len(jax.local_devices()) == 1
lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2"], free=("sin_theta",))
ds = scan(lik, {"sin_theta": np.geomspace(1e-3, 1e-2, N_POINTS)}, sys.argv[2], chunk_size=CHUNK, progress=False)
print("n_processes", ds.attrs["n_processes"], flush=True)
"""


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(out, throttle=0.0):
    env = {
        **os.environ,
        "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=1"),
        "HPJAX_SCAN_THROTTLE_S": str(throttle),
    }
    port = _port()
    return [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, f"127.0.0.1:{port},2,{pid}", str(out), str(N_POINTS), str(CHUNK)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in (0, 1)
    ]


def _finish(procs, timeout=120):
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0 and "n_processes 2" in o, e[-3000:]


def _load(out):
    with xr.open_dataset(pathlib.Path(out) / "scan.nc", engine="h5netcdf") as ds:
        return ds.load()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2"], free=("sin_theta",))
    out = tmp_path_factory.mktemp("single")
    return scan(lik, {"sin_theta": np.geomspace(1e-3, 1e-2, N_POINTS)}, out, chunk_size=CHUNK, progress=False)


def _same(a, b):
    assert set(a.data_vars) == set(b.data_vars) and a.attrs["identity_hash"] == b.attrs["identity_hash"]
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        assert np.array_equal(np.isfinite(x), np.isfinite(y)), k
        f = np.isfinite(x)
        np.testing.assert_allclose(x[f], y[f], rtol=1e-14, atol=0)


def test_two_processes_give_the_single_process_scan(tmp_path, reference):
    _finish(_start(tmp_path))
    ds = _load(tmp_path)
    assert ds.attrs["n_processes"] == 2 and ds.attrs["n_devices"] == 2
    _same(ds, reference)
    # each process wrote the files of its own points (half of every 4-point chunk), each point once
    files = sorted((tmp_path / "chunks").glob("points_*.npz"))
    index = np.concatenate([np.load(f)["_index"] for f in files])
    assert len(files) == 2 * N_POINTS // CHUNK and np.array_equal(np.sort(index), np.arange(N_POINTS))


def test_rerun_after_killing_one_process_completes_the_scan(tmp_path, reference):
    procs = _start(tmp_path, throttle=0.25)
    chunks = tmp_path / "chunks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("points_*.npz"))) < 4:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)  # process 1 dies mid-scan
    procs[1].wait()
    try:  # process 0 finishes its own points, then fails (or waits) at the barrier
        procs[0].wait(timeout=2)
    except subprocess.TimeoutExpired:
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert not (tmp_path / "scan.nc").exists()
    written = len(list(chunks.glob("points_*.npz")))
    assert 4 <= written < 2 * N_POINTS // CHUNK, written
    _finish(_start(tmp_path))
    ds = _load(tmp_path)
    _same(ds, reference)
    timing = json.loads((tmp_path / "scan_timing.json").read_text())
    assert 0 < timing["computed_points"] < N_POINTS and timing["processes"] == 2


def test_distributed_spec_is_checked():
    assert parse_spec("auto") == {} and parse_spec(None) == {}
    assert parse_spec("10.0.0.1:1234,4,3") == {
        "coordinator_address": "10.0.0.1:1234",
        "num_processes": 4,
        "process_id": 3,
    }
    for bad in ("localhost,2,0", "h:1,2,2", "h:1,2", "h:1,x,0"):
        with pytest.raises(ValueError, match="outside the allowed range"):
            parse_spec(bad)


SAMPLE_SCRIPT = """
import json, sys
from hpjax.inference.distributed import initialize
if sys.argv[1] != "one":
    initialize(sys.argv[1])  # "127.0.0.1:PORT,2,ID", before any JAX computation
import jax, numpy as np
sys.path.insert(0, sys.argv[2])
from test_sample import PRIORS, GaussianLikelihood
from hpjax.inference.sample import sample
assert len(jax.devices()) == 2
lik = GaussianLikelihood()
out = {"processes": jax.process_count()}
for chains in (2, 4):  # one chain a device (no vmap), two a device (vmapped)
    r = sample(lik, PRIORS, num_warmup=150, num_samples=100, num_chains=chains, seed=4)
    out[chains] = np.asarray(r.idata.posterior["x"]).tolist()
print(json.dumps(out))
"""


@pytest.mark.slow  # three processes each compiling two samplers (~30 s); make test-all runs it
def test_two_processes_sample_the_chains_of_one_process_with_two_devices():
    """NUTS over two processes (one CPU device each): every process returns all chains, bitwise
    the draws of one process with two devices (the same chains on each device), with one chain a
    device and with two."""
    tests = str(pathlib.Path(__file__).parent)

    def start(arg, devices):
        env = {**os.environ, "XLA_FLAGS": xla_flags(f"--xla_force_host_platform_device_count={devices}")}
        return subprocess.Popen(
            [sys.executable, "-c", SAMPLE_SCRIPT, arg, tests],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    port = _port()
    procs = [start("one", 2)] + [start(f"127.0.0.1:{port},2,{pid}", 1) for pid in (0, 1)]
    res = []
    for p in procs:
        o, e = p.communicate(timeout=300)
        assert p.returncode == 0, e[-3000:]
        res.append(json.loads(o.strip().splitlines()[-1]))
    assert [r["processes"] for r in res] == [1, 2, 2]
    for chains in ("2", "4"):
        one = np.asarray(res[0][chains])
        assert one.shape == (int(chains), 100) and np.ptp(one) > 0.1
        for r in res[1:]:
            np.testing.assert_array_equal(np.asarray(r[chains]), one)
