"""Every speed number of prospect-emu in one run, as one table.

Usage:  python benchmarks/run.py [--quick] [--threads 1]
        (SPS_HOME=... for the FSPS and training-set rows; skipped without it)

Rows: the numpy forward pass per network width (one SED and batched, per SED, beside a
bare numpy matmul chain of the same shapes); one ``lnprobfn`` call with warm FSPS
(metallicity free, every BaSTI metallicity built first) and emulated in each error mode,
and their ratios, beside the drop-in route (Prospector's own ``lnprobfn`` on the emulated
model, what a script that keeps ``fit_model``'s default ``lnprobfn`` runs); the demo fit
with each sampler (wall time, likelihood calls, time per call, and the posterior's
agreement with the dynesty fit); training-set generation
(SEDs per CPU-second: naive prior draws, metallicity blocks, blocks + shared spectra);
peak memory of each (tracemalloc, in a separate short pass, so that it does not slow the
timed one).  Timings are the best of several repeats (wall clock, one BLAS thread); the
``lnprobfn`` rows run their candidates (each error mode, and the numpy path with the numba
kernels off) in turn, 30 rounds, since this machine's speed drifts over seconds.
"""

from __future__ import annotations

import argparse
import os
import sys


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short run: fewer repeats, smaller sets")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--skip-fits", action="store_true", help="leave out the demo fits")
    p.add_argument("--nautilus-defaults", action="store_true",
                   help="also fit the demo with nautilus' default settings (minutes)")
    return p.parse_args()


ARGS = _args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import contextlib  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "data"))
warnings.simplefilter("ignore")

ROWS: list[tuple[str, str, str, str]] = []   # (measurement, value, unit, peak memory)


def row(name: str, value: float | str, unit: str = "", peak: float | None = None) -> None:
    v = value if isinstance(value, str) else (f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}")
    ROWS.append((name, v, unit, "" if peak is None else f"{peak:.1f}"))
    print(f"  {name:60s} {v:>10s} {unit}", file=sys.stderr, flush=True)


def best(fn, number: int, repeat: int) -> float:
    """Best seconds per call over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def peak_mib(fn) -> float:
    """Peak traced memory (MiB) of one call of ``fn``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def header() -> list[str]:
    import astropy
    import prospect
    import scipy

    def version(mod):
        try:
            return importlib.import_module(mod).__version__
        except Exception:
            return "absent"

    import prospect_emu

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return [f"machine: {cpu}, {os.cpu_count()} CPUs, load average {load[0]:.2f} at start "
            f"({platform.system()} {platform.release()}, Python {platform.python_version()})",
            f"packages: prospect-emu {version('prospect_emu')} ({Path(prospect_emu.__file__).parent}), "
            f"numpy {np.__version__}, scipy {scipy.__version__}, astropy {astropy.__version__}, "
            f"prospector {prospect.__version__}, dynesty {version('dynesty')}, "
            f"nautilus {version('nautilus')}, emcee {version('emcee')}, fsps {version('fsps')}, "
            f"numba {version('numba')}",
            f"BLAS threads {ARGS.threads}; {'--quick run' if ARGS.quick else 'full run'}; "
            f"SPS_HOME {'set' if os.environ.get('SPS_HOME') else 'unset (FSPS rows skipped)'}"]


# ---- 1. forward pass per width -----------------------------------------------------------
def forward_rows() -> None:
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        from bench_inference import random_emulator
    finally:
        sys.argv = saved
    from prospect_emu.emulator.fastpath import FoldedNetwork

    widths = (32, 128, 512) if ARGS.quick else (32, 64, 128, 256, 512)
    for width in widths:
        _forward_width(random_emulator(width=width), width, FoldedNetwork)


def _forward_width(emu, width, FoldedNetwork) -> None:
    nb = 2000 if ARGS.quick else 10000
    rng = np.random.default_rng(1)
    net = FoldedNetwork(emu, np.arange(len(emu.filter_names)))
    dense = [(a, b) for kind, a, b in emu._layers if kind == "dense"]
    x = rng.uniform(-1, 1, size=(nb, 5)).astype(np.float32)
    xa = np.ones((nb, 6), np.float32)
    xa[:, :5] = x
    x1, xa1 = x[0].copy(), xa[0].copy()
    xm = 0.5 * (emu.inputs.raw_lo + emu.inputs.raw_hi)

    def chain(z):
        for w, b in dense:
            z = z @ w
            z += b
        return z
    n1 = 500 if ARGS.quick else 3000
    r = 3 if ARGS.quick else 7
    tag = f"width {width:3d} (4 hidden layers)"
    row(f"{tag}: folded net, 1 SED", best(lambda: net.forward_one(xa1), n1, r) * 1e6, "us")
    row(f"{tag}: Emulator.predict_one, 1 SED", best(lambda: emu.predict_one(xm), n1, r) * 1e6, "us")
    row(f"{tag}: bare matmul chain, 1 SED", best(lambda: chain(x1), n1, r) * 1e6, "us")
    row(f"{tag}: folded net, batch of {nb}, per SED", best(lambda: net.forward(xa), 1, r) / nb * 1e6,
        "us", peak_mib(lambda: net.forward(xa)))
    row(f"{tag}: Emulator.forward, batch of {nb}, per SED",
        best(lambda: emu.forward(x), 1, r) / nb * 1e6, "us", peak_mib(lambda: emu.forward(x)))
    row(f"{tag}: bare matmul chain, batch of {nb}, per SED", best(lambda: chain(x), 1, r) / nb * 1e6,
        "us")


# ---- 2. one lnprobfn call ------------------------------------------------------------------
def _demo_setup(mode="diag", emulator=None):
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED, mock_observation
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    pf = load_param_file(DEMO_PARAMS)
    twin = emulate(pf.build_model(zred=DEMO_ZRED), emulator or DEMO_EMULATOR, error=mode)
    obs, truth = mock_observation(twin, 20.0, 42)
    return twin, obs, truth


def interleaved(fns: dict, number: int, repeat: int) -> dict[str, float]:
    """Best seconds per call of each function, the candidates run in turn per repeat (this
    machine's speed drifts over seconds: interleaving keeps the comparison fair)."""
    out = {k: np.inf for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            out[k] = min(out[k], min(timeit.repeat(f, number=number, repeat=1)) / number)
    return out


def lnprob_rows() -> dict[str, float]:
    from prospect_emu.emulator import kernels
    from prospect_emu.prospector.batched import lnprob_batch
    from prospect_emu.prospector.likelihood import lnprobfn

    out = {}
    twin, obs, truth = _demo_setup()
    rng = np.random.default_rng(0)
    thetas = [truth * (1 + 0.05 * rng.normal(size=truth.size)) for _ in range(300)]
    n = 300
    r = 5 if ARGS.quick else 30
    models = {mode: _demo_setup(mode)[0] for mode in ("none", "diag", "cov")}
    if kernels.ENABLED:  # the same call on the numpy path (PROSPECT_EMU_NO_JIT=1)
        kernels.ENABLED = False
        try:  # its plans are built at the first call: make it with the kernels off
            models["numpy"] = _demo_setup("diag")[0]
            lnprobfn(thetas[0], model=models["numpy"], obs=obs)
        finally:
            kernels.ENABLED = True

    def one(model, fn=lnprobfn):
        it = iter(thetas * 100000)
        return lambda: fn(next(it), model=model, obs=obs)
    candidates = {k: one(m) for k, m in models.items()}
    candidates.update(_dropin_candidates(one, models["none"]))
    calls = interleaved(candidates, n, r)
    th = np.array(thetas * 4)
    batches = interleaved({k: (lambda m=m: lnprob_batch(th, m, obs)) for k, m in models.items()
                           if k != "numpy"}, 1, max(3, r // 3))
    for mode in ("none", "diag", "cov"):
        model = models[mode]
        out[mode] = calls[mode]
        row(f"emulated lnprobfn, demo model, 15 bands, error={mode}", calls[mode] * 1e6, "us",
            peak_mib(lambda: lnprobfn(thetas[0], model=model, obs=obs)))  # noqa: B023
        out[mode + "_batch"] = batches[mode] / len(th)
        row(f"  batched (lnprob_batch, {len(th)} rows), error={mode}, per row",
            out[mode + "_batch"] * 1e6, "us",
            peak_mib(lambda: lnprob_batch(th, model, obs)))  # noqa: B023
    row("ratio cov / diag (one call)", out["cov"] / out["diag"], "x")
    if "numpy" in calls:
        row("  numpy path (numba kernels off), error=diag", calls["numpy"] * 1e6, "us")
        row("  ratio numpy / compiled (one call, diag)", calls["numpy"] / out["diag"], "x")
    _dropin_rows(calls, out)
    twin.emulator_error = "diag"
    u = rng.uniform(size=(300, 5))
    it = iter(list(u) * 10000)
    row("emulated prior_transform (one vector)", best(lambda: twin.prior_transform(next(it)), n, r) * 1e6, "us")
    it = iter(thetas * 10000)
    row("emulated prior_product (one vector)", best(lambda: twin.prior_product(next(it)), n, r) * 1e6, "us")
    if not os.environ.get("SPS_HOME"):
        row("FSPS lnprobfn (warm)", "skipped", "no SPS_HOME")
        return out
    try:
        import fsps  # noqa: F401
    except Exception:
        row("FSPS lnprobfn (warm)", "skipped", "no python-fsps")
        return out
    import delayed_tau_params as pf
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    model = pf.build_model()
    sps = pf.build_sps()
    fobs = pf.build_obs()
    t0 = time.process_time()
    zgrid = np.log10(np.array([0.0003, 0.0006, 0.001, 0.002, 0.004, 0.008, 0.01, 0.02, 0.03, 0.04])
                     / 0.0142)
    for z in np.clip(zgrid, -2.0, 0.19):  # every BaSTI isochrone metallicity, built once
        th = model.theta.copy()
        th[model.theta_index["logzsol"]] = z
        prospector_lnprobfn(th, model=model, obs=fobs, sps=sps)
    row("FSPS warm-up: every BaSTI metallicity once (one-off)", time.process_time() - t0, "CPU-s")
    ftruth = np.array([1e10, -0.3, 0.4, 5.0, 2.0])
    fthetas = [ftruth * (1 + 0.05 * rng.normal(size=5)) for _ in range(100)]
    it = iter(fthetas * 1000)
    nf = 20 if ARGS.quick else 100
    t = best(lambda: prospector_lnprobfn(next(it), model=model, obs=fobs, sps=sps), nf, 2 if ARGS.quick else 3)
    out["fsps"] = t
    row(f"FSPS lnprobfn, metallicity free, warm, {len(fobs['filters'])} bands", t * 1e6, "us",
        peak_mib(lambda: prospector_lnprobfn(fthetas[0], model=model, obs=fobs, sps=sps)))
    for mode in ("none", "diag", "cov"):
        row(f"ratio FSPS / emulated ({mode})", t / out[mode], "x")
    row("ratio FSPS / drop-in route (Prospector's lnprobfn, emulated)", t / out["dropin"], "x")
    return out


def _dropin_candidates(one, twin) -> dict:
    """The drop-in route (Prospector's own lnprobfn on the emulated model, what a script that
    keeps fit_model's default lnprobfn runs), for the photometric and the spectral demo
    emulators, beside the switch's route (use_emulator's lnprobfn) on the spectral one."""
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    spectral = _demo_setup("none", DEMO_SPECTRAL_EMULATOR)[0]
    return {"dropin": one(twin, prospector_lnprobfn), "spectral": one(spectral),
            "spectral_dropin": one(spectral, prospector_lnprobfn)}


def _dropin_rows(calls: dict, out: dict) -> None:
    out["dropin"] = calls["dropin"]
    row("drop-in route: Prospector's lnprobfn on the emulated model", calls["dropin"] * 1e6, "us")
    row("  ratio drop-in / use_emulator's lnprobfn (error=none)", calls["dropin"] / out["none"], "x")
    row("spectral demo emulator: use_emulator's lnprobfn, error=none", calls["spectral"] * 1e6, "us")
    row("  drop-in route (Prospector's lnprobfn)", calls["spectral_dropin"] * 1e6, "us")


# ---- 3. the demo fit with each sampler -----------------------------------------------------
def fit_rows() -> None:
    from prospect_emu.analysis.compare import js_divergence
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_NAUTILUS, DEMO_PARAMS, DEMO_ZRED, sampler_argv
    from prospect_emu.prospector.fitting import run_fit

    twin, obs, truth = _demo_setup()
    fits = {}
    plans = [("dynesty", sampler_argv("dynesty")), ("nautilus (demo settings)", sampler_argv("nautilus"))]
    if ARGS.nautilus_defaults:
        plans.append(("nautilus (defaults: 1000 live, 4 networks of 100x50x20)",
                      ["--nautilus", "--nautilus_nn_layers", "100,50,20", "--nautilus_nn_maxiter",
                       "10000"]))
    for name, argv in plans:
        argv = argv + ["--zred", str(DEMO_ZRED)]
        if name.startswith("nautilus"):
            try:
                import nautilus  # noqa: F401
            except ImportError:
                row(f"demo fit, {name}", "skipped", "pip install nautilus-sampler")
                continue
        c0 = time.process_time()
        fit = run_fit(DEMO_PARAMS, argv, emulator=DEMO_EMULATOR, emulator_error="diag", obs=obs,
                      seed=42, write=False)
        cpu = time.process_time() - c0
        fits[name] = fit
        row(f"demo fit, {name}: wall", fit.seconds, "s")
        row(f"demo fit, {name}: CPU", cpu, "CPU-s")
        row(f"demo fit, {name}: likelihood calls", float(fit.ncall or 0), "")
        if fit.ncall:
            row(f"demo fit, {name}: wall per call (sampler included)", fit.seconds / fit.ncall * 1e6, "us")
    ref = fits.get("dynesty")
    if ref is None:
        return
    a_all = ref.equal_weight_samples(4000, 0)
    for name, fit in fits.items():
        if fit is ref:
            continue
        b_all = fit.equal_weight_samples(4000, 0)
        dmed, js = [], []
        for j, label in enumerate(fit.model.theta_labels()):
            a, b = a_all[:, j], b_all[:, j]
            if label == "mass":
                a, b = np.log10(a), np.log10(b)
            sig = 0.5 * (np.percentile(a, 84) - np.percentile(a, 16))
            dmed.append(abs(np.median(a) - np.median(b)) / sig)
            js.append(js_divergence(a, b))
        row(f"demo fit, {name} vs dynesty: max |median offset| / sigma", max(dmed), "sigma")
        row(f"demo fit, {name} vs dynesty: max JS divergence", max(js), "bits")
    row("demo nautilus settings", ", ".join(f"{k[9:]}={v}" for k, v in DEMO_NAUTILUS.items()), "")


# ---- 3b. fast samplers against the dynesty reference (benchmarks/bench_samplers.py) ---------
def fast_sampler_rows() -> None:
    """The demo fit with dynesty (reference and demo settings), nautilus --nautilus_fast
    (and nautilus' defaults with --nautilus-defaults) and emcee: wall, calls, time per
    call, max |median offset| / reference sigma and max JS bits; fit-catalog --sampler
    emcee throughput (2 workers) and its per-object agreement with dynesty on a subset."""
    from bench_samplers import catalog_rows as sampler_catalog_rows
    from bench_samplers import demo_rows

    for r in demo_rows(200 if ARGS.quick else 500, ARGS.nautilus_defaults, 42, log=lambda m: None):
        name = f"demo fit, {r['sampler']}"
        row(f"{name}: wall", r["wall"], "s")
        row(f"{name}: likelihood calls", float(r["ncall"]), "")
        row(f"{name}: wall per call", r["us_per_call"], "us")
        if np.isfinite(r["max_offset"]):
            row(f"{name}: max |median offset| / reference sigma", r["max_offset"], "sigma")
            row(f"{name}: max JS divergence vs reference", r["max_js"], "bits")
    # 200 galaxies: the two workers' start-up (imports, the model) is then a few percent of
    # the run, as in a real catalog
    n, k = (6, 2) if ARGS.quick else (200, 4)
    c = sampler_catalog_rows(n, k, 2, 200, log=lambda m: None)
    row(f"fit-catalog, {n} demo galaxies, emcee, 2 workers: rate", c["rate"], "galaxies/h")
    row("fit-catalog emcee: CPU per galaxy (workers included)", c["cpu_per_galaxy"], "CPU-s")
    row(f"fit-catalog emcee vs one-at-a-time dynesty ({k} objects): max |median offset|",
        float(np.max(c["offset_max"])), "sigma")
    row("fit-catalog emcee vs one-at-a-time dynesty: median |median offset|",
        float(np.median(c["offset_median"])), "sigma")


# ---- 4. training-set generation ------------------------------------------------------------
def generation_rows() -> None:
    if not os.environ.get("SPS_HOME"):
        row("training-set generation", "skipped", "no SPS_HOME")
        return
    import delayed_tau_params as pf

    from prospect_emu.filters import DEFAULT_FILTERS, load_filters
    from prospect_emu.trainingdata.sampling import (
        ParameterSpace,
        PriorSampler,
        apply_blocks,
        share_spectra,
    )
    from prospect_emu.trainingdata.seds import compute_rows

    n = 60 if ARGS.quick else 400
    filters = load_filters(list(DEFAULT_FILTERS))
    model = pf.build_model()
    sps = pf.build_sps()
    space = ParameterSpace(model, {"zred": (0.0, 3.0)})
    zgrid = np.log10(np.array([0.0003, 0.0006, 0.001, 0.002, 0.004, 0.008, 0.01, 0.02, 0.03, 0.04])
                     / 0.0142)
    for z in np.clip(zgrid, -2.0, 0.19):
        th = model.theta.copy()
        th[model.theta_index["logzsol"]] = z
        model.predict(th, obs={"filters": filters, "wavelength": None, "spectrum": None}, sps=sps)
    draws = PriorSampler().draw(space, model, n, np.random.default_rng(1))
    schedules = [("naive prior draws", draws),
                 ("metallicity blocks of 20", apply_blocks(draws, space, "logzsol", 20)),
                 ("blocks of 20 + shared spectra x8",
                  share_spectra(apply_blocks(draws, space, "logzsol", 20), space, 8))]
    base = None
    for name, d in schedules:
        t0 = time.process_time()
        out = compute_rows(model, sps, d, space.names, space.ndim, filters)
        dt = time.process_time() - t0
        ok = int((out["status"] == 1).sum())
        rate = ok / dt
        base = base or rate
        mem = peak_mib(lambda d=d: compute_rows(model, sps, d[:20], space.names, space.ndim, filters))
        row(f"generation ({n} SEDs, warm FSPS): {name}", rate, "SEDs/CPU-s", mem)
        row(f"generation: {name} vs naive", rate / base, "x")


# ---- 5. catalog throughput ---------------------------------------------------------------
def catalog_rows() -> None:
    """fit-catalog on mock galaxies of the demo model (emulator-made photometry at S/N 20,
    drawn from the prior at zred 0.2-2.5), default dynesty settings, 2 local workers."""
    import tempfile

    from astropy.table import Table
    from sedpy.observate import load_filters

    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    n = 4 if ARGS.quick else 20
    twin = emulate(load_param_file(DEMO_PARAMS).build_model(), DEMO_EMULATOR)
    bands = twin.emulator.filter_names
    obs = {"filters": load_filters(bands)}
    rng = np.random.default_rng(11)
    cols = {"id": np.arange(n), "z": rng.uniform(0.2, 2.5, n)}
    flux = np.empty((n, len(bands)))
    for i in range(n):
        twin.params["zred"] = np.array([cols["z"][i]])
        theta = twin.prior_transform(rng.uniform(size=twin.ndim))
        _, flux[i], _ = twin.predict(theta, obs=obs)
    for j, b in enumerate(bands):
        cols[b + "_unc"] = flux[:, j] / 20
        cols[b] = flux[:, j] + cols[b + "_unc"] * rng.normal(size=n)
    with tempfile.TemporaryDirectory() as tmp:
        Table(cols).write(Path(tmp) / "mock.ecsv")
        t0, c0 = time.perf_counter(), _cpu_with_children()
        report = fit_catalog(Path(tmp) / "mock.ecsv", DEMO_EMULATOR, Path(tmp) / "out", workers=2,
                             progress=False)
        wall, cpu = time.perf_counter() - t0, _cpu_with_children() - c0
    row(f"fit-catalog, {n} demo galaxies, dynesty, 2 workers: rate", n / wall * 3600, "galaxies/h")
    row("fit-catalog: CPU per galaxy (workers included)", cpu / n, "CPU-s")
    row("fit-catalog: galaxies fitted ok", float(report.counts.get("ok", 0)), "")


def _cpu_with_children() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    top = header()
    for line in top:
        print(line, file=sys.stderr)
    t0 = time.perf_counter()
    for section in (forward_rows, lnprob_rows, None if ARGS.skip_fits else fit_rows,
                    None if ARGS.skip_fits else fast_sampler_rows, generation_rows, catalog_rows):
        if section is not None:
            with contextlib.redirect_stdout(sys.stderr):  # samplers' progress lines
                section()
    print("\n".join(top))
    width = max(len(r[0]) for r in ROWS)
    print(f"{'measurement':{width}s} {'value':>12s}  {'unit':14s} {'peak MiB':>8s}")
    for name, v, unit, peak in ROWS:
        print(f"{name:{width}s} {v:>12s}  {unit:14s} {peak:>8s}")
    print(f"(whole run {time.perf_counter() - t0:.0f} s wall)")


if __name__ == "__main__":
    main()
