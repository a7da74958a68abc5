"""RESULTS.md from results.json: the summary table (with targets) and the details."""

from __future__ import annotations

from pathlib import Path

from benchmarks._timing import fmt


def _g(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _spread(s: dict, scale: float = 1.0, digits: int = 2) -> str:
    if not s or not s.get("n"):
        return "n/a"
    return f"{fmt(s['median'] * scale, digits)} [{fmt(s['min'] * scale, digits)}, {fmt(s['max'] * scale, digits)}]"


def _verdict(value, target, higher_is_better=True) -> str:
    if value is None or value != value:
        return "not measured"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "**missed**"


def summary_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(what, measured, target, verdict) rows."""
    T = res["targets"]
    rows = []
    scan = res.get("scan", {})
    for region, label, tkey, qkey in (
        ("two_body", "two-body region", "scan_two_body_pts_per_s", "speedup_vs_quad_two_body"),
        ("both", "both regions", "scan_both_pts_per_s", "speedup_vs_quad_both"),
    ):
        r = _g(scan, "regions", region)
        if not r:
            continue
        head = scan.get("headline_mode")
        n = r.get("headline_n")
        hp = _g(r, "hpjax", head, str(n), "pts_per_s")
        rows.append(
            (
                f"scan throughput, `paper` likelihood, {label}, {fmt(n, 1)} points [points/s]",
                _spread(hp),
                f">= {fmt(T[tkey], 1)}",
                _verdict(r.get("headline_pts_per_s"), T[tkey]),
            )
        )
        sq = r.get("speedup_vs_scipy_quad")
        rows.append(
            (
                f"per point vs (a) scipy quad, {label}",
                f"{fmt(sq, 3)}x" if sq else "n/a",
                f">= {fmt(T[qkey], 1)}x",
                _verdict(sq, T[qkey]),
            )
        )
        sg = r.get("speedup_vs_numpy_gl")
        rows.append(
            (
                f"per point vs (b) numpy Gauss-Legendre, {label}",
                f"{fmt(sg, 3)}x" if sg else "n/a",
                f">= {fmt(T['speedup_vs_numpy_gl'], 1)}x",
                _verdict(sg, T["speedup_vs_numpy_gl"]),
            )
        )
    g = res.get("gradient", {})
    if "headline_ratio" in g:
        b = g["paper_2par_batched_blocked"]
        rows.append(
            (
                f"value_and_grad / value, `paper` likelihood, {b['n']} points",
                f"{g['headline_ratio']:.2f}",
                f"<= {T['grad_over_value']:g}",
                _verdict(g["headline_ratio"], T["grad_over_value"], False),
            )
        )
        p1 = g["posterior_9par_single_point"]
        rows.append(
            (
                "value_and_grad / value, posterior likelihood (9 parameters), one point",
                f"{p1['ratio']:.2f} ({p1['value_us_per_call']:.0f} vs {p1['value_and_grad_us_per_call']:.0f} us)",
                f"<= {T['grad_over_value']:g}",
                _verdict(p1["ratio"], T["grad_over_value"], False),
            )
        )
    nuts, em = res.get("nuts", {}), res.get("emcee", {})
    e_rate = _g(em, "ess_per_s", "median")
    more = sorted((k for k in nuts if k.startswith("many_chains_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    for label, key in (
        ("NUTS, singlet posterior (spec settings)", "spec"),
        ("NUTS, many chains vectorised", "many_chains"),
        *(("NUTS, many chains vectorised", k) for k in more),
    ):
        n = nuts.get(key)
        if not n:
            continue
        st = n["settings"]
        rate = n["ess_per_s"]["median"]
        rows.append(
            (
                f"{label}: {st['num_chains']} chains x {st['num_samples']} (+{st['num_warmup']} warm-up), "
                f"bulk ESS/s (min over parameters)",
                _spread(n["ess_per_s"], digits=3),
                f">= {fmt(T['nuts_ess_per_s'], 1)}",
                _verdict(rate, T["nuts_ess_per_s"]),
            )
        )
        if e_rate:
            rows.append(
                (
                    f"  vs (c) emcee ({_spread(em['ess_per_s'], digits=2)} ESS/s)",
                    f"{fmt(rate / e_rate, 3)}x",
                    f">= {fmt(T['nuts_vs_emcee'], 1)}x",
                    _verdict(rate / e_rate, T["nuts_vs_emcee"]),
                )
            )
    c = _g(res, "compile", "summary")
    if c:
        rows.append(
            (
                "compile latency, full `paper` likelihood, cold cache [s] (trace + compile)",
                _spread(c["cold_log_likelihood_total_s"]),
                f"<= {T['cold_compile_s']:g}",
                _verdict(c["cold_log_likelihood_total_s"]["median"], T["cold_compile_s"], False),
            )
        )
        rows.append(("  value_and_grad, cold cache [s]", _spread(c["cold_value_and_grad_total_s"]), "", ""))
        rows.append(
            (
                "  value / value_and_grad, warm persistent cache [s]",
                f"{_spread(c['warm_log_likelihood_total_s'])} / {_spread(c['warm_value_and_grad_total_s'])}",
                "",
                "",
            )
        )
    im = res.get("import", {})
    if "total_s" in im:
        rows.append(
            (
                "`import hpjax` (fresh interpreter, jax included) [s]",
                f"{_spread(im['total_s'])} (jax alone {fmt(im['jax_s']['median'], 2)})",
                "",
                "",
            )
        )
    cli = res.get("cli_scan", {})
    if "points_per_s" in cli:
        rows.append(
            (
                "`hpjax scan` as a user runs it (fig1 spec at 1200 x 900, fresh process), steady state [points/s]",
                f"{fmt(cli['points_per_s'], 2)} on {cli['devices']} devices, CPU/wall {cli['cpu_over_wall']:.2f}",
                "CPU/wall ≈ cores",
                "met" if cli["cpu_over_wall"] >= 0.9 * (res.get("machine", {}).get("cpu_count") or 1) else "**missed**",
            )
        )
    mem = res.get("memory", {})
    if "peak_rss_mb" in mem:
        rows.append(
            (
                f"peak memory (max RSS) of the {fmt(mem['n'], 1)}-point scan [MB]",
                _spread(mem["peak_rss_mb"], digits=3),
                f"<= {T['peak_memory_mb']:g}",
                _verdict(mem["peak_rss_mb"]["median"], T["peak_memory_mb"], False),
            )
        )
    b2 = res.get("belle2_full", {})
    if "lean" in b2 and "pts_per_s" in b2["lean"]:
        rows.append(
            (
                f"`belle2_full` profiled ln L (231 nuisances, {b2['steps']} Gauss-Newton steps), lean backend, "
                f"{b2['n_points']} grid points [points/s] (max |Δ ln L| vs the pyhf-backed path "
                f"{b2['max_abs_diff_lnL']:.1e}; XLA temporaries {b2['lean']['temp_bytes_per_point'] / 1e6:.3f} MB/point)",
                _spread(b2["lean"]["pts_per_s"]),
                ">= 1000",
                _verdict(b2["lean"]["pts_per_s"]["median"], 1000.0),
            )
        )
        rows.append(
            (
                f"  vs the pyhf-backed path ({_spread(b2['pyhf']['pts_per_s'])} points/s, "
                f"{b2['pyhf']['temp_bytes_per_point'] / 1e6:.1f} MB/point)",
                f"{b2['speedup']:.0f}x",
                ">= 30x",
                _verdict(b2["speedup"], 30.0),
            )
        )
        cmd = b2.get("commands", {}).get("lean", {})
        if "fit" in cmd and "profile" in cmd:
            rows.append(
                (
                    "  `hpjax fit` / `hpjax profile` (100 masses) on the belle2_full specs, fresh process [s]",
                    f"{cmd['fit']['wall_s']:.1f} / {cmd['profile']['wall_s']:.1f}",
                    "< 30 / < 60",
                    _verdict(max(cmd["fit"]["wall_s"] / 30.0, cmd["profile"]["wall_s"] / 60.0), 1.0, False),
                )
            )
    h = res.get("hypotest", {})
    if "seconds_toys" in h:
        rows.append(
            (
                f"look-elsewhere toys: {fmt(h['n_toys'], 1)} belle2_full toys, each profiled over 23 masses of X [s] "
                f"(+ {h['seconds_first_block_with_compile']:.0f} s first block with compilation; process "
                f"{h['process_wall_s']:.0f} s wall, CPU/wall {h['process_cpu_s'] / h['process_wall_s']:.2f}); "
                f"Z_global {h['Z_global']:.2f} (Gross-Vitells {h['Z_gross_vitells']:.2f}), Z_local {h['Z_local']:.2f}",
                f"{h['seconds_toys']:.0f}",
                "<= 600 for 1e4",
                _verdict(h["seconds_toys"] * 1e4 / h["n_toys"], 600.0, False),
            )
        )
    return rows


def summary_table(res: dict) -> str:
    lines = ["| what | measured: median [min, max] | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(res)]
    return "\n".join(lines)


def _scan_details(res) -> str:
    scan = res.get("scan")
    if not scan or "regions" not in scan:
        return ""
    out = ["| region | implementation | points | points/s: median [min, max] |", "|---|---|---|---|"]
    names = {
        "blocked": f"hpjax, `lax.map` blocks of {scan['block']}, sharded over {len(scan['devices'])} CPU devices",
        "vmap": "hpjax, one `vmap` per chunk (as `hpjax.inference.scan`)",
    }
    for region, r in scan["regions"].items():
        for mode, d in r["hpjax"].items():
            for n, v in d.items():
                out.append(f"| {region} | {names.get(mode, mode)} | {fmt(int(n), 1)} | {_spread(v['pts_per_s'])} |")
        for n, v in r["numpy_gl"].items():
            out.append(
                f"| {region} | (b) numpy Gauss-Legendre, chunks of 1024 | {fmt(int(n), 1)} | {_spread(v['pts_per_s'])} |"
            )
        for n, v in r["scipy_quad"].items():
            out.append(f"| {region} | (a) scipy `quad`, per point | {n} | {_spread(v['pts_per_s'])} |")
    out.append("")
    out.append("Agreement with hpjax before timing (max |Δ ln L| / max(|ln L|, 1)):")
    out.append("")
    for region, r in scan["regions"].items():
        for k, v in r["agreement"].items():
            out.append(
                f"* {region}, {k}: {v['max_rel_diff']:.1e} over {v['n_points']} points "
                f"({'ok' if v['ok'] else 'FAILED'}, tolerance {v['tol']:g})"
            )
    return "\n".join(out)


def _features(m: dict) -> str:
    """ ", AVX-512F, 2596 MHz" where the run recorded them (runs before 2026-12-08 did not)."""
    names = {"avx512f": "AVX-512F", "avx2": "AVX2", "avx": "AVX", "sse4_2": "SSE4.2"}
    parts = [names.get(m["simd"], m["simd"])] if m.get("simd") else []
    if m.get("cpu_mhz"):
        parts.append(f"{m['cpu_mhz']:.0f} MHz")
    return "".join(f", {p}" for p in parts)


def write_report(res: dict, path: Path) -> str:
    m = res["machine"]
    cfg = res["config"]
    parts = [
        "# hpjax benchmarks",
        "",
        f"Machine: {m['cpu']}{_features(m)}, {m['cpu_count']} cores ({m['platform']}); JAX devices {', '.join(m['jax_devices'])}. "
        f"Date: {m['date_utc']}. Versions: hpjax {m['hpjax']} ({m['hpjax_git']}), jax {m['jax']}, jaxlib {m['jaxlib']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, numpyro {m['numpyro']}, arviz {m['arviz']}, emcee {m['emcee']}, "
        f"Python {m['python']}. Load average at start {tuple(round(x, 2) for x in m['load_average_start'])}, "
        f"at end {tuple(round(x, 2) for x in m.get('load_average_end', (float('nan'),) * 3))}. "
        f"{'Quick (development) run. ' if cfg['quick'] else ''}"
        f"Every figure: median of {cfg['runs']} runs after one warm-up run, [min, max] of the runs. "
        f"Total wall time {res.get('total_wall_s', float('nan')):.0f} s.",
        "",
        summary_table(res),
        "",
        "## Scan throughput in detail",
        "",
        _scan_details(res),
        "",
    ]
    text = "\n".join(parts)
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists() and not cfg["quick"]:
        text += "\n" + notes.read_text()
    path.write_text(text)
    return text
