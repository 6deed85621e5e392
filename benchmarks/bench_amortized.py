"""Amortized catalog fits against per-galaxy fits, on FSPS-made mocks (issue 24).

Mocks: the first ``--n`` usable rows of an independent FSPS test set of the emulator's model
(``prospect-emu generate --sampler prior --block-size 1`` with a seed none of the emulator's
sets used), noise at S/N ``--snr`` in every band; written as a catalog and fitted with
``fit-catalog --posterior`` (one worker, in this process, one thread), the fallback
being ``--fallback``.  Reported:

- throughput: galaxies per CPU-hour end to end (fallbacks, derived quantities and writing
  included), the fraction on the amortized route, the ESS distribution;
- agreement with per-galaxy fits (emcee with the ``--reference-preset``, long enough chains
  that their own noise stays well below the targets; or nautilus, ``--reference-sampler``,
  for a model emcee does not converge on) on the first ``--agree`` galaxies that took
  the amortized route: per galaxy and parameter |median offset| in the per-galaxy
  posterior's sigma and Jensen-Shannon divergence (bits, ``--nsamples`` draws each side);
  the fraction of galaxies within 0.1 sigma and 0.02 bits in every parameter; and the same
  between two per-galaxy fits with different seeds (the reference's own noise floor);
- coverage of the FSPS truth (68% and 95%, beyond 3 sigma) of the importance-weighted
  posteriors, beside the plain flow's (draws from q without weights).

    SPS_HOME=... python benchmarks/bench_amortized.py --posterior POST --testset T.h5 --n 1000

The bundled alpha model (14 free parameters, zred fixed at 1; a test set of its own at that
zred, ``generate prospect_emu/data/alpha_params.py --sampler prior --block-size 1 --seed 777``):
the importance step alone (what docs/amortized.rst reports), and, with a posterior that keeps
galaxies amortized, the full benchmark with nautilus fallbacks and references::

    python benchmarks/bench_amortized.py --emulator prospect_emu/data/alpha_emulator \
        --posterior POST --testset T.h5 --n 200 --importance-only
    python benchmarks/bench_amortized.py --emulator prospect_emu/data/alpha_emulator \
        --posterior POST --testset T.h5 --fallback nautilus --fallback-preset wide \
        --reference-sampler nautilus --reference-preset wide --agree 20 --floor 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = "targets: >= 65,000 galaxies per CPU-hour with >= 90% amortized; |offset| <= 0.1 " \
          "sigma and JS <= 0.02 bits in >= 95% of galaxies; 95% coverage >= 0.92"


def write_catalog(mocks, path: Path) -> Path:
    from astropy.table import Table

    t = Table()
    t["id"] = np.arange(len(mocks.z))
    t["z"] = mocks.z
    for j, b in enumerate(mocks.bands):
        t[b] = mocks.maggies[:, j]
        t[f"{b}_unc"] = mocks.unc[:, j]
    t.write(path, overwrite=True)
    return path


def write_catalog_rows(table, ids: list[int], path: Path) -> Path:
    """The catalog's rows of ``ids`` (ids kept, so the draws match)."""
    keep = np.isin(np.asarray(table["id"]), ids)
    table[keep].write(path, overwrite=True)
    return path


def cpu_run(fn, *args, **kwargs):
    """``fn``'s result, and its CPU and wall seconds (this process: one worker)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - c0, time.perf_counter() - w0


def draws_of(samples_path: Path, ids) -> tuple[list[str], dict]:
    from prospect_emu.analysis.catalog_io import read_samples
    from prospect_emu.errors import ConfigurationError

    out, columns = {}, []
    for i in ids:
        try:
            columns, arr = read_samples(samples_path, int(i))
        except (KeyError, ConfigurationError):  # not fitted there (another route's subset)
            continue
        out[int(i)] = arr
    return columns, out


def agreement(a: dict, b: dict, labels: list[str], ncols: int) -> np.ndarray:
    """(galaxies, parameters, 2): |offset| / sigma and JS bits of ``b`` against ``a``."""
    from prospect_emu.analysis.agreement import marginal_agreement

    rows = []
    for i in sorted(set(a) & set(b)):
        rec = marginal_agreement(a[i][:, :ncols], b[i][:, :ncols], labels=labels[:ncols])
        rows.append([[r["offset_sigma"], r["js_bits"]] for r in rec])
    return np.array(rows)


def summarize_agreement(name: str, agr: np.ndarray, labels: list[str]) -> list[str]:
    ok = (agr[:, :, 0] <= 0.1) & (agr[:, :, 1] <= 0.02)
    lines = [f"{name}: {len(agr)} galaxies; within 0.1 sigma and 0.02 bits in every parameter: "
             f"{ok.all(axis=1).mean():.3f}"]
    for j, lab in enumerate(labels):
        lines.append(f"  {lab:22s} median |off| {np.median(agr[:, j, 0]):.3f}  p95 "
                     f"{np.percentile(agr[:, j, 0], 95):.3f}  median JS {np.median(agr[:, j, 1]):.4f}"
                     f"  p95 {np.percentile(agr[:, j, 1], 95):.4f}  ok {ok[:, j].mean():.3f}")
    return lines


def importance_only(args, model, filters, mocks) -> list[str]:
    """The route's importance step (escalation included) alone on every mock, no fallback
    fitted: for a model whose fallbacks cost minutes each.  The fraction that would stay on
    the amortized route, the ESS, the step's CPU time, and the plain flow's coverage."""
    from prospect_emu.amortized.posterior import AmortizedPosterior
    from prospect_emu.amortized.route import ROUTE_OPTIONS, importance_step
    from prospect_emu.analysis.calibrate import coverage_table
    from prospect_emu.analysis.catalog_object import make_obs

    post = AmortizedPosterior.load(args.posterior)
    post.check_model(model, args.emulator)
    route = dict(ROUTE_OPTIONS, **{k: v for k, v in (
        ("proposals", args.proposals), ("min_ess", args.min_ess), ("refine", args.refine),
        ("escalate", args.escalate)) if v is not None})
    n, ndim = len(mocks.z), len(model.theta_labels())
    ess, calls, plain = np.zeros(n), np.zeros(n), np.empty((n, 1000, ndim))
    cpu = 0.0
    for i in range(n):
        model.params["zred"] = np.atleast_1d(float(mocks.z[i]))
        obs = make_obs(filters, mocks.maggies[i], mocks.unc[i], np.ones(len(filters), bool))
        (imp, _), c, _ = cpu_run(importance_step, post, model, obs, float(mocks.z[i]), route,
                                 args.seed + i)
        cpu += c
        ess[i], calls[i] = (imp.ess, imp.ncall) if imp is not None else (0.0, 0)
        plain[i] = post.propose(obs, float(mocks.z[i]), 1000, seed=i)[0]
    lines = [f"{n} FSPS mocks (S/N {args.snr:g}), posterior {args.posterior}: the importance "
             f"step alone ({route['proposals']} proposals, refine {route['refine']}, escalate "
             f"{route['escalate']}), no fallback fitted",
             f"importance step: {1000 * cpu / n:.1f} CPU-ms per galaxy, {calls.mean():,.0f} calls",
             f"would stay amortized (ESS >= {route['min_ess']:g}): {np.mean(ess >= route['min_ess']):.3f}; "
             f"ESS median {np.median(ess):.0f}, 25th-75th percentile {np.percentile(ess, 25):.0f}-"
             f"{np.percentile(ess, 75):.0f}, 95th {np.percentile(ess, 95):.0f}",
             "", "plain flow coverage of the FSPS truth: quantity 68% / 95% / beyond 3 sigma"]
    for r in coverage_table(list(model.theta_labels()), mocks.truths[:, :ndim], plain, {}):
        lines.append(f"  {r['quantity']:22s} {r['coverage_68']:.3f} / {r['coverage_95']:.3f} / "
                     f"{r['beyond_3sigma']:.3f}")
    return lines


def main(argv=None) -> int:
    from prospect_emu.amortized.posterior import AmortizedPosterior
    from prospect_emu.analysis.calibrate import coverage_table
    from prospect_emu.analysis.calibrate_mocks import mocks_from_test_set
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.analysis.catalog_io import read_table
    from prospect_emu.analysis.catalog_object import build_model, make_obs, model_source
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.trainingdata.trainingset import TrainingSet

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emulator", default=str(ROOT / "prospect_emu/data/demo_emulator"))
    ap.add_argument("--posterior", required=True)
    ap.add_argument("--testset", required=True,
                    help="independent FSPS test set (zred free, or the emulator's fixed zred)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--snr", type=float, default=20.0)
    ap.add_argument("--agree", type=int, default=200, help="galaxies also fitted per galaxy")
    ap.add_argument("--reference-sampler", default="emcee", choices=["emcee", "nautilus"],
                    help="the per-galaxy fits' sampler (nautilus for models emcee does not "
                    "converge on, such as the 14-parameter alpha model)")
    ap.add_argument("--reference-preset", default="demo", help="its preset")
    ap.add_argument("--reference-niter", type=int, default=1500,
                    help="emcee's production steps (burn-in a third of them)")
    ap.add_argument("--nsamples", type=int, default=4000,
                    help="draws per galaxy compared (the throughput run keeps fit-catalog's 1000)")
    ap.add_argument("--floor", type=int, default=50, help="of those, refitted with another seed")
    ap.add_argument("--reference-from", default=None,
                    help="reuse the per-galaxy fits of an earlier run's --out on the same mocks "
                    "(same --testset, --n, --snr, --seed; compared where both have a galaxy) "
                    "instead of fitting them again; no noise floor then")
    ap.add_argument("--fallback", default="emcee")
    ap.add_argument("--fallback-preset", default=None, help="the fallback sampler's preset")
    ap.add_argument("--proposals", type=int, default=None)
    ap.add_argument("--min-ess", type=float, default=None)
    ap.add_argument("--refine", type=int, default=None)
    ap.add_argument("--escalate", type=int, default=None)
    ap.add_argument("--importance-only", action="store_true",
                    help="run the importance step alone on every mock, fit no fallback and no "
                    "reference (for a model whose fallbacks cost minutes each)")
    ap.add_argument("--out", default="bench_amortized_out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    try:  # a flow posterior evaluates in PyTorch; a Gaussian mixture needs none
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    emu = Emulator.load(args.emulator)
    source = model_source(args.emulator, list(emu.filter_names), emu=emu)
    model, filters = build_model(source)
    mocks = mocks_from_test_set(emu, model, TrainingSet(args.testset), args.n,
                                np.random.default_rng(args.seed), args.snr)
    if args.importance_only:
        text = "\n".join(importance_only(args, model, filters, mocks))
        print(text)
        (out / "report.txt").write_text(text + "\n")
        return 0
    cat = write_catalog(mocks, out / "mocks.ecsv")
    route = {k: v for k, v in (("proposals", args.proposals), ("min_ess", args.min_ess),
                                ("refine", args.refine), ("escalate", args.escalate))
             if v is not None}
    common = dict(sampler=args.fallback, workers=1, overwrite=True, progress=False, seed=args.seed)
    fallback = ({"sampler_options": {"preset": args.fallback_preset}}
                if args.fallback_preset else {})
    rep, cpu, wall = cpu_run(fit_catalog, cat, args.emulator, out / "amortized",
                             posterior=args.posterior, **route, **common, **fallback)
    summary = read_table(rep.summary)
    amortized = np.char.startswith(np.asarray(summary["route"], dtype=str), "amortized")
    n = len(summary)
    lines = [f"{n} FSPS mocks (S/N {args.snr:g}), posterior {args.posterior}, fallback "
             f"{args.fallback}", TARGETS, "",
             f"fit-catalog --posterior: {cpu:.1f} CPU-s ({wall:.1f} s wall): "
             f"{3600 * n / cpu:,.0f} galaxies per CPU-hour ({n / cpu:.1f} per CPU-second)",
             f"amortized route: {amortized.mean():.3f} of galaxies; ESS median "
             f"{np.nanmedian(summary['ess']):.0f}, 5th percentile "
             f"{np.nanpercentile(summary['ess'], 5):.0f}",
             f"fallback reasons: {sorted(set(str(m) for m in summary['message'][~amortized]))[:5]}"]
    labels = list(model.theta_labels())
    ids = [int(i) for i in np.asarray(summary["id"])[amortized][:args.agree]]
    sub = write_catalog_rows(read_table(cat), ids, out / "agree.ecsv")
    niter = args.reference_niter
    reference = dict(common, sampler=args.reference_sampler, nsamples=args.nsamples,
                     sampler_options={"preset": args.reference_preset})
    if args.reference_sampler == "emcee":
        reference.update(niter=niter, nburn=[niter // 3])
    if args.reference_from:
        ref_samples = Path(args.reference_from) / "per_galaxy" / "samples.h5"
        lines.append(f"per-galaxy fits reused from {args.reference_from}")
    else:
        ref, cpu_ref, _ = cpu_run(fit_catalog, sub, args.emulator, out / "per_galaxy", **reference)
        ref_samples = ref.samples
        steps = f", {niter} steps" if args.reference_sampler == "emcee" else ""
        lines.append(f"per-galaxy {args.reference_sampler} ({args.reference_preset} preset"
                     f"{steps}): {cpu_ref / max(len(ids), 1):.2f} CPU-s per galaxy "
                     f"({3600 * len(ids) / cpu_ref:,.0f} per CPU-hour)")
    again_amortized = fit_catalog(sub, args.emulator, out / "amortized_agree",
                                  posterior=args.posterior, **route, **fallback,
                                  **dict(common, nsamples=args.nsamples))
    second = read_table(again_amortized.summary)
    ids = [int(i) for i, r in zip(second["id"], second["route"]) if r == "amortized"]
    columns, amort_draws = draws_of(again_amortized.samples, ids)
    _, ref_draws = draws_of(ref_samples, ids)
    ncols = len(labels)
    lines += summarize_agreement("amortized vs per-galaxy", agreement(ref_draws, amort_draws,
                                                                      columns, ncols), labels)
    if args.floor and not args.reference_from:
        floor_ids = ids[:args.floor]
        again = fit_catalog(sub, args.emulator, out / "per_galaxy_seed2", max_objects=len(floor_ids),
                            **dict(reference, seed=args.seed + 1))
        _, again_draws = draws_of(again.samples, floor_ids)
        lines += summarize_agreement("per-galaxy vs per-galaxy, another seed (noise floor)",
                                     agreement(ref_draws, again_draws, columns, ncols), labels)
    # coverage of the FSPS truth: importance-weighted posteriors, and the plain flow
    _, all_draws = draws_of(rep.samples, range(n))
    tcols = [mocks.labels.index(c) for c in columns if c in mocks.labels]
    dcols = [columns.index(c) for c in columns if c in mocks.labels]
    keep = sorted(all_draws)
    truths = mocks.truths[keep][:, tcols]
    draws = np.stack([all_draws[i][:, dcols] for i in keep])
    names = [columns[j] for j in dcols]
    weighted = coverage_table(names, truths, draws, {})
    post = AmortizedPosterior.load(args.posterior)
    table = read_table(cat)
    plain = np.empty((len(keep), 1000, len(labels)))
    for r, i in enumerate(keep):
        model.params["zred"] = np.atleast_1d(float(table["z"][i]))
        obs = make_obs(filters, mocks.maggies[i], mocks.unc[i], np.ones(len(filters), bool))
        plain[r] = post.propose(obs, float(table["z"][i]), 1000, seed=i)[0]
    flow_only = coverage_table(labels, mocks.truths[keep][:, :len(labels)], plain, {})
    lines += ["", f"coverage of the FSPS truth ({len(keep)} mocks): quantity, importance-weighted "
              "68% / 95% / beyond 3 sigma | plain flow 68% / 95% / beyond 3 sigma"]
    plain_rows = {r["quantity"]: r for r in flow_only}
    for r in weighted:
        p = plain_rows.get(r["quantity"])
        extra = (f" | {p['coverage_68']:.3f} / {p['coverage_95']:.3f} / {p['beyond_3sigma']:.3f}"
                 if p is not None else "")
        lines.append(f"  {r['quantity']:22s} {r['coverage_68']:.3f} / {r['coverage_95']:.3f} / "
                     f"{r['beyond_3sigma']:.3f}{extra}")
    text = "\n".join(lines)
    print(text)
    (out / "report.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
