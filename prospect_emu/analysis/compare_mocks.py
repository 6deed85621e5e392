"""Emulated against FSPS posteriors over many mock galaxies (``compare --mocks``).

Mocks are drawn from the model's prior, observed with FSPS plus noise at a given S/N and
fitted both ways with :func:`.compare.compare`, each mock in its own folder
(``mockNNN/comparison.json``, written last, whole or not at all).  Fits run in this process
or on local workers or a Dask cluster (:func:`prospect_emu.engines.map_tasks`); the same seed
draws the same mocks whatever runs them, and a rerun reads finished mocks back.

The summary, per quantity over the mocks: the offsets (emulated vs FSPS, each vs the truth)
in posterior sigma, the rate of \\|offset\\| > 3 sigma, the Jensen-Shannon divergence of the
two marginals, and the coverage of the 68% and 95% intervals.  :func:`read_mocks` reads the
mocks of one or more finished runs (other seeds) so that they can be summarized together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..paramfile import load_param_file
from ..prospector.fitting import call_builder, noisy_observation
from .compare import _offset_sigma, compare
from .derived import sfh_age_and_sfr


def run_mocks(param_file: str | Path, emulator: str | Path, out: str | Path, n: int,
              argv: list[str] | None = None, snr: float = 20.0, seed: int = 1,
              n_draws: int = 400, progress: bool = True, *, sampler: str | None = None,
              preset: str | None = None, sampler_options: dict[str, Any] | None = None,
              workers: int | None = 1, dask_scheduler: str | None = None,
              executor=None, noise_floor_mag: float | None = None) -> dict[str, Any]:
    """Draw ``n`` mocks from the prior, observe them with FSPS at S/N ``snr``, fit both ways
    (the sampler as for :func:`.compare.compare`).

    ``noise_floor_mag``: each band's noise at least that of a band this many magnitudes
    below the mock's brightest band at S/N ``snr`` (:func:`~prospect_emu.prospector.fitting.noisy_observation`;
    default none: S/N ``snr`` in every band, however faint).  The noise settings are kept in
    ``noise.json``; a rerun with other settings in the same folder is refused.

    Mocks whose parameters fall outside the emulator's training bounds are redrawn (the
    emulator covers only its bounds) and counted.  ``workers`` / ``dask_scheduler`` /
    ``executor``: where the fits run (default: in this process; each worker builds its own
    FSPS).  Resumable: the same ``seed`` draws the same mocks, and a mock whose
    ``mockNNN/comparison.json`` an interrupted run left is read back instead of fitted again.
    Returns :func:`summarize_mocks`'s summary, also written to ``mocks.json`` / ``mocks.txt``.
    """
    from ..engines import in_process, map_tasks

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    argv = list(argv or [])
    noise = {"snr": float(snr), "noise_floor_mag": noise_floor_mag, "seed": int(seed)}
    check_noise_record(out, noise)
    sps, mocks, redrawn = draw_mocks(param_file, emulator, n, argv, snr, seed, noise_floor_mag)
    how = {"n_draws": n_draws, "sampler": sampler, "preset": preset, "sampler_options": sampler_options}
    local = in_process(workers, dask_scheduler, executor)
    done = {k: _finished_mock(out / f"mock{k:03d}") for k in range(n)}
    todo = [(param_file, emulator, str(out / f"mock{k:03d}"), argv, seed + k, obs, truth, k == 0,
             how, sps if local else None) for k, (obs, truth) in enumerate(mocks) if done[k] is None]
    ks = [k for k in range(n) if done[k] is None]
    for i, res in map_tasks(fit_mock, todo, workers=workers, dask_scheduler=dask_scheduler,
                            executor=executor, progress=progress, desc="mocks", unit="galaxy"):
        done[ks[i]] = res
    records = [_record(truth, done[k]) for k, (_, truth) in enumerate(mocks)]
    summary = summarize_mocks(records)
    summary["redrawn_outside_emulator_bounds"] = redrawn
    summary["snr"] = snr
    if noise_floor_mag is not None:
        summary["noise_floor_mag"] = noise_floor_mag
    (out / "mocks.json").write_text(json.dumps({"summary": summary, "mocks": records}, indent=1))
    (out / "mocks.txt").write_text(format_mock_summary(summary) + "\n")
    return summary


def check_noise_record(out: Path, noise: dict[str, Any]) -> None:
    """Keep a run's noise settings in ``out/noise.json``, or refuse a rerun whose settings
    differ from those the folder's finished mocks were made with."""
    path = out / "noise.json"
    if path.is_file() and any(out.glob("mock*/comparison.json")):
        kept = json.loads(path.read_text())
        if kept != noise:
            raise ConfigurationError(
                f"{out} holds mocks made with {kept}, not {noise}: a rerun reads finished mocks "
                "back, so give the same --snr, --noise-floor-mag and --seed, or another --out")
        return
    path.write_text(json.dumps(noise))


def draw_mocks(param_file: str | Path, emulator: str | Path, n: int, argv: list[str], snr: float,
               seed: int, floor_mag: float | None = None
               ) -> tuple[Any, list[tuple[dict, dict[str, float]]], int]:
    """``(sps, [(obs, truth), ...], redrawn)``: ``n`` prior draws inside the emulator's
    bounds, observed with FSPS plus Gaussian noise at S/N ``snr`` (with ``floor_mag``, a
    floor: :func:`~prospect_emu.prospector.fitting.noisy_observation`); the truth holds the
    free parameters and the derived quantities."""
    from ..emulator.artifact import Emulator
    from ..prospector.fitting import build_run_params
    from ..prospector.twin import emulate

    module = load_param_file(param_file)
    run_params = build_run_params(argv)
    model = call_builder(module, "build_model", run_params, "to build the model")
    sps = call_builder(module, "build_sps", run_params, "to make and fit the mocks with FSPS")
    base_obs = call_builder(module, "build_obs", run_params, "for the mocks' filters and errors")
    twin = emulate(model, Emulator.load(emulator))
    rng = np.random.default_rng(seed)
    labels = model.theta_labels()
    mocks, redrawn = [], 0
    while len(mocks) < n:
        theta = model.prior_transform(rng.uniform(size=model.ndim))
        twin.set_parameters(theta)
        if twin.emulator.inputs.out_of_bounds(twin.emulator_inputs()).any():
            redrawn += 1
            if redrawn > 100 * n:
                raise ConfigurationError("the model's prior hardly overlaps the emulator's bounds")
            continue
        _, phot, mfrac = model.predict(theta, obs=base_obs, sps=sps)
        obs = noisy_observation(base_obs, phot, snr, rng, floor_mag)
        truth = dict(zip(labels, (float(t) for t in theta)))
        truth["stellar_mass"] = float(np.sum(model.params["mass"])) * float(mfrac)
        truth["mass_weighted_age"], truth["sfr_100myr"] = sfh_age_and_sfr(model.params)
        if "logzsol" in model.params:
            truth["stellar_metallicity"] = float(np.squeeze(model.params["logzsol"]))
        mocks.append((obs, truth))
    return sps, mocks, redrawn


def fit_mock(param_file, emulator, folder: str, argv: list[str], seed: int, obs: dict,
             truth: dict[str, float], plots: bool, how: dict[str, Any], sps=None) -> dict[str, Any]:
    """One mock fitted both ways (a worker's task): what ``comparison.json`` keeps of it.
    ``sps=None`` builds FSPS from the parameter file in the process that runs it."""
    res = compare(param_file, emulator, folder, argv, seed=seed, obs=obs, sps=sps, truth=truth,
                  plots=plots, **how)
    return {"rows": res["rows"], "fsps": {"seconds": res["fsps"].fit.seconds},
            "emulator": {"seconds": res["emulator"].fit.seconds}}


def _finished_mock(folder: Path) -> dict[str, Any] | None:
    """A mock fitted by an earlier, interrupted run (its comparison.json is written last)."""
    path = folder / "comparison.json"
    return json.loads(path.read_text()) if path.is_file() else None


def read_mocks(*folders: str | Path) -> list[dict[str, Any]]:
    """The finished mocks of one or more ``compare --mocks`` output folders, as records for
    :func:`summarize_mocks` (the truths as the comparison rows carry them), in folder order.

    Raises
    ------
    ConfigurationError
        Where a folder holds no finished mock.
    """
    records = []
    for folder in folders:
        found = sorted(Path(folder).glob("mock[0-9][0-9][0-9]/comparison.json"))
        if not found:
            raise ConfigurationError(f"{folder}: no finished mock (mockNNN/comparison.json); "
                                     "is it the --out folder of a compare --mocks run?")
        for path in found:
            res = json.loads(path.read_text())
            records.append(_record({r["quantity"]: r["truth"] for r in res["rows"] if "truth" in r},
                                   res))
    return records


def _record(truth: dict[str, float], done: dict[str, Any]) -> dict[str, Any]:
    """A mock's record for :func:`summarize_mocks` from its truth and what
    ``comparison.json`` keeps of it."""
    return {"truth": truth, "rows": done["rows"], "fsps_seconds": done["fsps"]["seconds"],
            "emu_seconds": done["emulator"]["seconds"]}


_KEYS = ("emu_vs_fsps", "fsps_vs_truth", "emu_vs_truth", "fsps_cover", "emu_cover", "fsps_cover95",
         "emu_cover95", "rel_median", "js")


def summarize_mocks(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Offsets, outlier rates, Jensen-Shannon divergences and 68% / 95% coverage per
    quantity over the mocks."""
    per: dict[str, dict[str, list[float]]] = {}
    for rec in records:
        for r in rec["rows"]:
            _collect(per.setdefault(r["quantity"], {k: [] for k in _KEYS}), r)
    out = {"n_mocks": len(records), "quantities": {}}
    for q, d in per.items():
        s = {}
        for key in ("emu_vs_fsps", "fsps_vs_truth", "emu_vs_truth"):
            v = np.asarray(d[key], float)
            v = v[np.isfinite(v)]  # collapsed posteriors have no width to measure in
            if v.size:
                s[key] = {"median": float(np.median(v)), "median_abs": float(np.median(np.abs(v))),
                          "outlier_rate_3sigma": float(np.mean(np.abs(v) > 3))}
        for key, name in (("fsps_cover", "fsps_coverage_68"), ("emu_cover", "emu_coverage_68"),
                          ("fsps_cover95", "fsps_coverage_95"), ("emu_cover95", "emu_coverage_95")):
            if d[key]:
                s[name] = float(np.mean(d[key]))
        if d["rel_median"]:
            s["median_relative_difference_of_medians"] = float(np.median(d["rel_median"]))
        js = np.asarray(d["js"], float)
        js = js[np.isfinite(js)]
        if js.size:
            s["js_bits"] = {"median": float(np.median(js)), "p90": float(np.percentile(js, 90)),
                            "max": float(js.max())}
        out["quantities"][q] = s
    return out


def _collect(d: dict[str, list[float]], r: dict[str, Any]) -> None:
    """One mock's comparison row into the per-quantity lists."""
    f, e = r["fsps"], r["emulator"]
    d["emu_vs_fsps"].append(r["offset_sigma"])
    if "js_divergence" in r:
        d["js"].append(r["js_divergence"])
    if f[1] != 0:
        d["rel_median"].append(abs(e[1] - f[1]) / abs(f[1]))
    t = r.get("truth")
    if t is None or not np.isfinite(t):
        return
    d["fsps_vs_truth"].append(-_offset_sigma(t, f))
    d["emu_vs_truth"].append(-_offset_sigma(t, e))
    d["fsps_cover"].append(float(f[0] <= t <= f[2]))
    d["emu_cover"].append(float(e[0] <= t <= e[2]))
    if "fsps_95" in r:
        d["fsps_cover95"].append(float(r["fsps_95"][0] <= t <= r["fsps_95"][1]))
        d["emu_cover95"].append(float(r["emulator_95"][0] <= t <= r["emulator_95"][1]))


def format_mock_summary(summary: dict[str, Any]) -> str:
    """:func:`summarize_mocks`'s summary as a text table with its legend."""
    snr = f" at S/N {summary['snr']}" if "snr" in summary else ""
    if "noise_floor_mag" in summary:
        snr += f", noise floor {summary['noise_floor_mag']:g} mag below the brightest band"
    lines = [f"{summary['n_mocks']} mocks{snr}",
             f"{'quantity':20s} {'|emu-FSPS|/sig':>14s} {'JS bits':>7s} {'|FSPS-true|/sig':>15s} "
             f"{'|emu-true|/sig':>14s} {'>3sig emu':>9s} {'cov68 FSPS':>10s} {'cov68 emu':>9s} "
             f"{'cov95 FSPS':>10s} {'cov95 emu':>9s} {'|d median|':>10s}"]
    for q, s in summary["quantities"].items():
        def g(k, sub="median_abs", s=s):
            return s.get(k, {}).get(sub, np.nan)
        lines.append(f"{q:20s} {g('emu_vs_fsps'):14.2f} {g('js_bits', 'median'):7.3f} "
                     f"{g('fsps_vs_truth'):15.2f} {g('emu_vs_truth'):14.2f} "
                     f"{g('emu_vs_truth', 'outlier_rate_3sigma'):9.2f} {s.get('fsps_coverage_68', np.nan):10.2f} "
                     f"{s.get('emu_coverage_68', np.nan):9.2f} {s.get('fsps_coverage_95', np.nan):10.2f} "
                     f"{s.get('emu_coverage_95', np.nan):9.2f} "
                     f"{s.get('median_relative_difference_of_medians', np.nan):10.1%}")
    lines.append("cov68/cov95: fraction of mocks whose truth lies inside the 68% / 95% interval "
                 "(ideal 0.68 / 0.95)")
    lines.append("|emu-FSPS|/sig, JS bits: medians over mocks of |emulated - FSPS posterior median| "
                 "in FSPS posterior sigma and of the marginals' Jensen-Shannon divergence")
    lines.append("|d median|: median over mocks of |emulated - FSPS posterior median| / |FSPS median| "
                 "(Mathews et al. 2023 report 25-40% for their emulators)")
    return "\n".join(lines)
