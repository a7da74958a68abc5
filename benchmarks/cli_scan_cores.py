"""Does `hpjax scan` use every core? Runs the command on fits/fig1_unified.toml (its grid refined
to 1200 x 900 points, chunks of 16384) into a temporary directory, once as a user runs it
(XLA_FLAGS unset: the command asks for one CPU device per core) and once with one device
(XLA_FLAGS=--xla_force_host_platform_device_count=1), and reads the process's CPU time from
/proc/<pid>/stat between the 2nd and the last-but-one chunk file (the steady state: no import,
no compilation). Prints CPU time / wall time and points/s of each; records the load.

    .venv/bin/python benchmarks/cli_scan_cores.py
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHUNK = 16384
GRID = (1200, 900)  # ~1e6 points: seconds of steady state at 1e5..1e6 points/s


def _cpu_s(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(xla_flags: str | None) -> dict:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hpjax_cores_"))
    spec = (ROOT / "fits" / "fig1_unified.toml").read_text()
    spec = spec.replace('directory = "results/fig1_unified"', f'directory = "{tmp / "out"}"')
    spec = spec.replace("points = 120", f"points = {GRID[0]}").replace("points = 90", f"points = {GRID[1]}")
    (tmp / "spec.toml").write_text(spec)
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    cmd = [sys.executable, "-m", "hpjax.cli", "scan", "--quiet", "--chunk-size", str(CHUNK), str(tmp / "spec.toml")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    chunks = tmp / "out" / "chunks"
    n_total = -(-GRID[0] * GRID[1] // CHUNK)
    marks = []
    while proc.poll() is None:
        n = len(list(chunks.glob("points_*.npz"))) if chunks.exists() else 0
        if (not marks and n >= 2) or (len(marks) == 1 and n >= n_total - 1):
            marks.append((time.perf_counter(), _cpu_s(proc.pid), n))
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0 or len(marks) < 2:
        raise SystemExit(f"scan failed or too short: rc {proc.returncode}, {err[-2000:]}")
    (t1, c1, n1), (t2, c2, n2) = marks
    ds_dev = json.loads((tmp / "out" / "scan_timing.json").read_text())["devices"]
    return {
        "XLA_FLAGS": xla_flags,
        "devices": len(ds_dev),
        "cpu_over_wall": (c2 - c1) / (t2 - t1),
        "points_per_s": (n2 - n1) * CHUNK / (t2 - t1),
        "steady_wall_s": t2 - t1,
        "last_line": out.strip().splitlines()[-1].replace(str(tmp), "<tmp>"),  # results.json is committed
    }


def main() -> None:
    load = os.getloadavg()
    res = [run(None), run("--xla_force_host_platform_device_count=1")]
    print(
        json.dumps({"load_before": load, "load_after": os.getloadavg(), "cores": os.cpu_count(), "runs": res}, indent=1)
    )


if __name__ == "__main__":
    main()
