"""The demo fit with each sampler against the dynesty reference, and fit-catalog throughput.

Usage:  python benchmarks/bench_samplers.py [--quick] [--reference-nlive 500]
            [--nautilus-default] [--catalog 200] [--subset 6] [--workers 2]

One run, one table (no FSPS needed: the bundled demo emulator makes the mocks):

* the demo fit (``prospect-emu demo``'s mock: demo truth at z = 0.8, S/N 20, seed 42) with
  dynesty at the demo's settings, nautilus (``--nautilus_fast``, and with
  ``--nautilus-default`` nautilus' own defaults), and emcee (the demo's settings): wall
  and CPU seconds of the sampling, likelihood calls, wall per call, and per free
  parameter the |median offset| in reference posterior sigma and the JS divergence
  (bits, 40 common bins; :mod:`prospect_emu.analysis.agreement`) against a dynesty reference fit
  (``--reference-nlive`` live points, dlogz 0.1, mass compared in log10);
* ``fit-catalog`` on ``--catalog`` mock galaxies of the demo model (emulator photometry at
  S/N 20 of prior draws at z 0.2-2.5) with ``--sampler emcee`` on ``--workers`` local
  processes: galaxies per hour and CPU per galaxy; and for ``--subset`` of them, the
  catalog's per-object medians against one-at-a-time dynesty fits (``--subset-nlive``
  live points, dlogz 0.1): |offset| / sigma and JS bits, median and maximum over objects.

BLAS is limited to one thread per process.  The machine may be shared: wall times are
inflated by its load (printed on top); CPU seconds less so.
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

warnings.simplefilter("ignore")


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small reference, catalog of 6, subset of 2")
    p.add_argument("--reference-nlive", type=int, default=500, help="dynesty reference live points")
    p.add_argument("--nautilus-default", action="store_true",
                   help="also fit with nautilus' default settings (slow: its network training)")
    p.add_argument("--catalog", type=int, default=200,
                   help="mock galaxies in the catalog run (0: none)")
    p.add_argument("--subset", type=int, default=6, help="of which fitted one at a time with dynesty")
    p.add_argument("--subset-nlive", type=int, default=200,
                   help="live points of the one-at-a-time dynesty fits of the subset")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--emcee-seeds", type=int, default=5,
                   help="emcee fits with this many seeds (the spread of its agreement)")
    p.add_argument("--reference", default=None, metavar="NPZ",
                   help="reuse the dynesty reference samples in this file (written when absent)")
    p.add_argument("--only", default=None,
                   help="comma-separated sampler name prefixes to run (besides the reference)")
    return p.parse_args(argv)


def demo_mock(seed: int = 42):
    """The demo's emulated model and mock observation (as ``prospect-emu demo``)."""
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED, mock_observation
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    twin = emulate(load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED), DEMO_EMULATOR,
                   error="diag")
    obs, truth = mock_observation(twin, 20.0, seed)
    return twin, obs, truth


def demo_fit(argv: list[str], obs, seed: int):
    """(FitResult, CPU seconds) of the demo model's fit with Prospector-style ``argv``."""
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED
    from prospect_emu.prospector.fitting import run_fit

    c0 = time.process_time()
    fit = run_fit(DEMO_PARAMS, argv + ["--zred", str(DEMO_ZRED)], emulator=DEMO_EMULATOR,
                  emulator_error="diag", obs=obs, seed=seed, write=False)
    return fit, time.process_time() - c0


def sampler_plans(reference_nlive: int, nautilus_default: bool,
                  emcee_seeds: int = 1) -> list[tuple[str, list[str], int]]:
    """(name, argv, seed offset) of each demo fit, the reference first."""
    from prospect_emu.demo import sampler_argv

    plans = [(f"dynesty reference (nlive {reference_nlive}, dlogz 0.1)",
              sampler_argv("dynesty", reference_nlive), 0),
             ("dynesty (demo settings: nlive 200)", sampler_argv("dynesty"), 0),
             ("nautilus --nautilus_fast", ["--nautilus", "--nautilus_fast", "True"], 0)]
    if nautilus_default:
        plans.append(("nautilus (defaults: 1000 live, 4 networks 100x50x20)", ["--nautilus"], 0))
    for k in range(emcee_seeds):
        plans.append((f"emcee (demo settings), seed +{k}", sampler_argv("emcee"), k))
    return plans


def demo_rows(reference_nlive: int = 500, nautilus_default: bool = False, seed: int = 42,
              log=print, emcee_seeds: int = 1, reference: str | None = None,
              only: str | None = None) -> list[dict]:
    """One dict per sampler: name, wall, cpu, ncall, us_per_call, max_offset, max_js,
    per-parameter agreement (the reference's own are NaN).  ``reference``: an npz file of
    the reference samples, reused when it exists (its timing row is then left out)."""
    from prospect_emu.analysis.agreement import marginal_agreement

    twin, obs, _ = demo_mock(seed)
    labels = list(twin.theta_labels())
    out, ref = [], None
    if reference and Path(reference).exists():
        with np.load(reference) as f:
            ref = (f["samples"], f["weights"])
    for name, argv, extra_seed in sampler_plans(reference_nlive, nautilus_default, emcee_seeds):
        is_ref = name.startswith("dynesty reference")
        if is_ref and ref is not None:
            continue
        if only and not is_ref and not any(name.startswith(p) for p in only.split(",")):
            continue
        fit, cpu = demo_fit(argv, obs, seed + extra_seed)
        s, w = fit.samples()
        if is_ref and reference:
            np.savez(reference, samples=s, weights=w)
        r = {"sampler": name, "wall": fit.seconds, "cpu": cpu, "ncall": fit.ncall or 0,
             "us_per_call": fit.seconds / max(fit.ncall or 1, 1) * 1e6}
        if ref is None:
            ref = (s, w)
            r.update(max_offset=np.nan, max_js=np.nan, agreement=[])
        else:
            ag = marginal_agreement(ref[0], s, ref[1], w, labels)
            r.update(agreement=ag, max_offset=max(a["offset_sigma"] for a in ag),
                     max_js=max(a["js_bits"] for a in ag))
        log(f"  {name}: {r['wall']:.2f} s, {r['ncall']} calls, max offset {r['max_offset']:.3f}, "
            f"max JS {r['max_js']:.4f}")
        out.append(r)
    return out


def mock_catalog(path: Path, n: int, seed: int = 11) -> list[np.ndarray]:
    """ECSV catalog of ``n`` mock galaxies of the demo model (emulator photometry at S/N 20 of
    prior draws at z 0.2-2.5; maggies); returns the true thetas."""
    from astropy.table import Table
    from sedpy.observate import load_filters

    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    twin = emulate(load_param_file(DEMO_PARAMS).build_model(), DEMO_EMULATOR)
    bands = twin.emulator.filter_names
    obs = {"filters": load_filters(bands)}
    rng = np.random.default_rng(seed)
    cols = {"id": np.arange(n), "z": rng.uniform(0.2, 2.5, n)}
    flux, truths = np.empty((n, len(bands))), []
    for i in range(n):
        twin.params["zred"] = np.array([cols["z"][i]])
        theta = twin.prior_transform(rng.uniform(size=twin.ndim))
        truths.append(theta)
        _, flux[i], _ = twin.predict(theta, obs=obs)
    for j, b in enumerate(bands):
        cols[b + "_unc"] = flux[:, j] / 20
        cols[b] = flux[:, j] + cols[b + "_unc"] * rng.normal(size=n)
    Table(cols).write(path, overwrite=True)
    return truths


def _cpu_with_children() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def catalog_rows(n: int = 24, subset: int = 6, workers: int = 2, reference_nlive: int = 500,
                 sampler: str = "emcee", log=print) -> dict:
    """fit-catalog throughput with ``sampler`` on ``workers`` processes, and the per-object
    agreement of the first ``subset`` objects with one-at-a-time dynesty fits."""
    from prospect_emu.analysis.agreement import marginal_agreement
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.analysis.catalog_io import load_catalog, read_samples
    from prospect_emu.analysis.catalog_object import build_model, fit_object, make_obs
    from prospect_emu.demo import DEMO_EMULATOR

    with tempfile.TemporaryDirectory() as tmp:
        cat = Path(tmp) / "mock.ecsv"
        mock_catalog(cat, n)
        t0, c0 = time.perf_counter(), _cpu_with_children()
        report = fit_catalog(cat, DEMO_EMULATOR, Path(tmp) / "out", workers=workers, progress=False,
                             sampler_options={"sampler": sampler, "seed": 0})
        wall, cpu = time.perf_counter() - t0, _cpu_with_children() - c0
        out = {"sampler": sampler, "n": n, "workers": workers, "wall": wall,
               "rate": n / wall * 3600, "cpu_per_galaxy": cpu / n,
               "ok": int(report.counts.get("ok", 0))}
        log(f"  fit-catalog {sampler}: {n} galaxies in {wall:.1f} s ({out['rate']:.0f}/h)")
        from prospect_emu.analysis.catalog_object import model_source
        from prospect_emu.emulator.artifact import Emulator

        emu = Emulator.load(DEMO_EMULATOR)
        data = load_catalog(cat, emu.filter_names)
        source = model_source(DEMO_EMULATOR, [b.band for b in data.bands], None, {}, "diag", emu=emu)
        offsets, jss, seconds = [], [], []
        for i in range(min(subset, n)):
            model, filters = build_model(source)
            model.params["zred"] = np.atleast_1d(float(data.z[i]))
            obs = make_obs(filters, data.maggies[i], data.unc[i], data.band_ok[i])
            ref = fit_object(model, obs, {"sampler": "dynesty", "nlive": reference_nlive,
                                          "dlogz": 0.1, "seed": 1, "nsamples": 4000})
            seconds.append(ref["seconds"])
            labels = list(model.theta_labels())
            _, draws = read_samples(report.samples, int(data.ids[i]))
            ag = marginal_agreement(ref["samples"], draws[:, :len(labels)], labels=labels)
            offsets.append([a["offset_sigma"] for a in ag])
            jss.append([a["js_bits"] for a in ag])
        offsets, jss = np.array(offsets), np.array(jss)
        out.update(subset=len(offsets), labels=labels,
                   offset_median=np.median(offsets, 0), offset_max=offsets.max(0),
                   js_median=np.median(jss, 0), js_max=jss.max(0),
                   dynesty_seconds=float(np.mean(seconds)))
    return out


def format_table(fits: list[dict], cat: dict | None) -> str:
    lines = [f"{'sampler':48s} {'wall s':>7s} {'CPU s':>7s} {'calls':>8s} {'us/call':>8s} "
             f"{'max|dmed|/sig':>13s} {'max JS bits':>11s}"]
    for r in fits:
        off = "(reference)" if not np.isfinite(r["max_offset"]) else f"{r['max_offset']:.3f}"
        js = "" if not np.isfinite(r["max_js"]) else f"{r['max_js']:.4f}"
        lines.append(f"{r['sampler']:48s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['ncall']:8d} "
                     f"{r['us_per_call']:8.1f} {off:>13s} {js:>11s}")
    lines.append("per parameter (|median offset| / reference sigma, JS bits):")
    for r in fits:
        if not r["agreement"]:
            continue
        lines.append(f"  {r['sampler']:46s} " + "  ".join(
            f"{a['parameter']} {a['offset_sigma']:.3f}/{a['js_bits']:.4f}" for a in r["agreement"]))
    em = [r for r in fits if r["sampler"].startswith("emcee") and r["agreement"]]
    if len(em) > 1:
        off, js = [r["max_offset"] for r in em], [r["max_js"] for r in em]
        lines.append(f"emcee over {len(em)} seeds: max |dmed|/sigma median {np.median(off):.3f}, "
                     f"worst {max(off):.3f}; max JS median {np.median(js):.4f}, worst {max(js):.4f}; "
                     f"wall median {np.median([r['wall'] for r in em]):.2f} s, CPU median "
                     f"{np.median([r['cpu'] for r in em]):.2f} s")
    if cat:
        lines.append(f"fit-catalog --sampler {cat['sampler']}, {cat['n']} mock galaxies, "
                     f"{cat['workers']} workers: {cat['rate']:.0f} galaxies/hour "
                     f"({cat['wall']:.1f} s wall, {cat['cpu_per_galaxy']:.2f} CPU-s per galaxy, "
                     f"{cat['ok']} ok)")
        lines.append(f"  vs one-at-a-time dynesty on {cat['subset']} of them "
                     f"({cat['dynesty_seconds']:.1f} s each): |median offset|/sigma median / max; "
                     "JS bits median / max")
        for j, name in enumerate(cat["labels"]):
            lines.append(f"    {name:10s} {cat['offset_median'][j]:.3f} / {cat['offset_max'][j]:.3f};"
                         f"  {cat['js_median'][j]:.4f} / {cat['js_max'][j]:.4f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = _args(argv)
    if args.quick:
        args.reference_nlive, args.catalog, args.subset, args.subset_nlive = 200, 6, 2, 100
    load = os.getloadavg()[0]
    t0 = time.perf_counter()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)
    fits = demo_rows(args.reference_nlive, args.nautilus_default, args.seed, log,
                     args.emcee_seeds, args.reference, args.only)
    cat = catalog_rows(args.catalog, args.subset, args.workers, args.subset_nlive, log=log) \
        if args.catalog else None
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; BLAS 1 thread; demo mock seed {args.seed}")
    print(format_table(fits, cat))
    print(f"(whole run {time.perf_counter() - t0:.0f} s wall)")


if __name__ == "__main__":
    main()
