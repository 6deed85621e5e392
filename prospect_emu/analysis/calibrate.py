"""``prospect-emu calibrate EMULATOR TESTSET``: posterior calibration against known truths.

Mocks of known truth (:mod:`prospect_emu.analysis.calibrate_mocks`: FSPS photometry of an
independent test set written by ``prospect-emu generate --sampler prior``, with noise) are
fitted through the emulated likelihood, one object at a time by
:func:`prospect_emu.analysis.catalog_object.fit_task` (the unit of ``fit-catalog``: the same
samplers, error modes and derived quantities), in this process, on local worker processes or
on a Dask cluster (:func:`prospect_emu.engines.open_executor`).  No FSPS at fit time.

For each free parameter, derived quantity and the emulated ln posterior density
(:mod:`~prospect_emu.analysis.calibrate_density`: a truth denser than every draw is a mode the
sampler missed) the report gives

- the coverage of the central 68% and 95% posterior intervals (the fraction of mocks whose
  interval holds the truth; a calibrated posterior gives 0.68 and 0.95 when the truths are
  drawn from the prior) with 95% Clopper-Pearson binomial intervals (scipy);
- the fraction of mocks beyond 3 sigma: the truth outside the central 99.73% of the draws
  (expected 0.27%);
- the rank of the truth among the posterior draws (simulation-based calibration, Talts et
  al. 2018): uniform for a calibrated posterior; a U shape means too narrow, a hump too
  wide, a slope a bias.  The histogram is drawn with the 99% band of a uniform one, and a
  chi-square p-value is given;
- a verdict: ``overconfident`` when a coverage lies significantly below its nominal level or
  too many mocks lie beyond 3 sigma, ``underconfident`` when a coverage lies significantly
  above, else ``calibrated`` (significant: at 99%, since each quantity is tested three times).

Output folder: ``calibration.ecsv`` (the table, settings in its meta), ``mocks.ecsv`` (truth,
percentiles and rank per mock) and ``ranks.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..options import DEFAULT_ERROR_MODE
from ..prospector.samplers import get_sampler
from .calibrate_density import DENSITY, missed_modes, posterior_densities
from .calibrate_mocks import DERIVED_TRUTHS, Mocks

#: The sampler calibrate uses by default: the demo's batched emcee preset
#: (``prospect_emu.demo.DEMO_EMCEE``; a test keeps the two equal).
DEFAULT_SAMPLER: dict[str, Any] = {
    "sampler": "emcee", **{k: v for k, v in get_sampler("emcee").preset("demo").values.items()
                           if k != "emcee_moves"}, "nsamples": 1000, "seed": 0}
LEVELS = (0.68, 0.95)
#: two-sided tail probability of 3 sigma
P_BEYOND_3SIGMA = 0.0026998
#: confidence of the binomial intervals in the table
CONFIDENCE = 0.95
#: confidence of the verdicts: 99%, since each quantity gets three tests (68%, 95%, 3 sigma)
VERDICT_CONFIDENCE = 0.99


@dataclass
class CalibrationReport:
    """What :func:`run_calibration` measured.

    Attributes
    ----------
    table : astropy.table.Table
        One row per quantity (see :func:`coverage_table`).
    mocks : Mocks
    draws : ndarray, shape (n_fitted, nsamples, nquantities)
        Equal-weight posterior draws of each fitted mock.
    fitted : ndarray of int
        Index into ``mocks`` of each fitted mock (failed fits are left out).
    paths : dict
    seconds : float
    routes : list of str
        Each fitted mock's route (the sampler's name, or ``amortized`` /
        ``fallback:<sampler>`` with ``--posterior``).
    lnp_truth, lnp_draws : ndarray, shapes (n_fitted,), (n_fitted, nsamples)
        The emulated ln posterior density of each truth and draw
        (:mod:`~prospect_emu.analysis.calibrate_density`).
    """

    table: Any
    mocks: Mocks
    draws: np.ndarray
    fitted: np.ndarray
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    routes: list[str] = field(default_factory=list)
    lnp_truth: np.ndarray | None = None
    lnp_draws: np.ndarray | None = None

    def quantities(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Labels, truths (n_fitted, q) and draws (n_fitted, nsamples, q) of every tested
        quantity: the mocks' (free parameters, derived) and the ln posterior density."""
        truths = self.mocks.truths[self.fitted]
        if self.lnp_truth is None:
            return list(self.mocks.labels), truths, self.draws
        return (list(self.mocks.labels) + [DENSITY], np.column_stack([truths, self.lnp_truth]),
                np.concatenate([self.draws, self.lnp_draws[:, :, None]], axis=2))

    def __str__(self) -> str:
        t = self.table
        lines = [f"{t.meta['n_fitted']} mocks ({t.meta['source']}), {t.meta['noise']}, "
                 f"error {t.meta['emulator_error']}, sampler {t.meta['sampler']}: "
                 f"{self.seconds:.1f} s"]
        lines.append(f"{'quantity':18s} {'68% coverage':>20s} {'95% coverage':>20s} "
                     f"{'>3 sigma':>8s} {'rank p':>7s}  verdict")
        for r in t:
            lines.append(f"{r['quantity']:18s} {_ci(r, 68):>20s} {_ci(r, 95):>20s} "
                         f"{r['beyond_3sigma']:8.3f} {r['rank_pvalue']:7.3f}  {r['verdict']}")
        if "missed_modes" in t.meta:
            lines.append(f"truth denser than every draw (the sampler missed a mode): "
                         f"{t.meta['missed_modes']} of {t.meta['n_fitted']} mocks "
                         f"(about {t.meta['missed_modes_expected']:.2g} expected)")
        lines.append(t.meta["verdict"])
        lines += [f"wrote {k}: {v}" for k, v in self.paths.items()]
        return "\n".join(lines)


def _ci(row, level: int) -> str:
    c, lo, hi = (row[f"coverage_{level}{s}"] for s in ("", "_lo", "_hi"))
    return f"{c:.3f} [{lo:.2f}, {hi:.2f}]"


def ranks_of(truths: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Normalised rank of each truth among its draws: the fraction of draws below it.

    ``truths`` (n, q), ``draws`` (n, s, q) -> (n, q) in [0, 1]; NaN draws are left out."""
    below = np.sum(draws < truths[:, None, :], axis=1)
    finite = np.sum(~np.isnan(draws), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite > 0, below / finite, np.nan)


def interval_hits(truths: np.ndarray, draws: np.ndarray, level: float) -> np.ndarray:
    """Whether each truth lies in its central ``level`` interval (percentiles of the draws)."""
    a = 50.0 * (1.0 - level)
    lo = np.nanpercentile(draws, a, axis=1)
    hi = np.nanpercentile(draws, 100.0 - a, axis=1)
    return (lo <= truths) & (truths <= hi)


def coverage_table(labels: list[str], truths: np.ndarray, draws: np.ndarray, meta: dict[str, Any]):
    """The calibration table (astropy) of ``draws`` (n, s, q) against ``truths`` (n, q).

    Columns: quantity, n, coverage_68 and coverage_95 with their 95% binomial interval
    (``_lo``, ``_hi``), beyond_3sigma, rank_pvalue, verdict; ``meta`` is stored with an
    overall verdict."""
    from astropy.table import Table
    from scipy import stats

    ranks = ranks_of(truths, draws)
    rows = []
    for j, name in enumerate(labels):
        ok = np.isfinite(truths[:, j]) & np.isfinite(ranks[:, j])
        n = int(ok.sum())
        row: dict[str, Any] = {"quantity": name, "n": n}
        low = high = False
        for level in LEVELS:
            k = int(interval_hits(truths[ok, j:j + 1], draws[ok][:, :, j:j + 1], level).sum())
            ci = stats.binomtest(k, n).proportion_ci(CONFIDENCE) if n else None
            key = f"coverage_{round(100 * level)}"
            row[key] = k / n if n else np.nan
            row[key + "_lo"], row[key + "_hi"] = (ci.low, ci.high) if ci else (np.nan, np.nan)
            wide = stats.binomtest(k, n).proportion_ci(VERDICT_CONFIDENCE) if n else None
            low |= bool(wide and wide.high < level)
            high |= bool(wide and wide.low > level)
        r = ranks[ok, j]
        k3 = int(np.sum((r < P_BEYOND_3SIGMA / 2) | (r > 1 - P_BEYOND_3SIGMA / 2)))
        row["beyond_3sigma"] = k3 / n if n else np.nan
        tails = n and (stats.binomtest(k3, n, P_BEYOND_3SIGMA, alternative="greater").pvalue
                       < 1 - VERDICT_CONFIDENCE)
        counts, _ = np.histogram(r, bins=rank_bins(n), range=(0, 1))
        row["rank_pvalue"] = float(stats.chisquare(counts).pvalue) if n else np.nan
        row["verdict"] = ("overconfident" if low or tails else "underconfident" if high
                          else "calibrated")
        rows.append(row)
    table = Table(rows=rows)
    for c in table.colnames:
        if table[c].dtype.kind == "f":
            table[c].format = ".4f"
    table.meta.update(meta)
    bad = [r["quantity"] for r in rows if r["verdict"] != "calibrated"]
    table.meta["verdict"] = ("calibrated: every quantity's coverage agrees with its nominal level"
                             if not bad else f"not calibrated: {', '.join(bad)}")
    return table


def rank_bins(n: int) -> int:
    """Histogram bins for ``n`` ranks: about 5-10 mocks a bin, 4 to 20 bins."""
    return int(np.clip(n // 8, 4, 20))


def rank_histograms(labels: list[str], ranks: np.ndarray, path: Path, title: str = "") -> Path:
    """SBC rank histograms, one panel a quantity, with the 99% band of a uniform one (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    ncol = min(4, len(labels))
    nrow = -(-len(labels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    for ax, j in zip(axes.flat, range(len(labels))):
        r = ranks[:, j][np.isfinite(ranks[:, j])]
        nb = rank_bins(len(r))
        ax.hist(r, bins=nb, range=(0, 1), color="C0", alpha=0.8)
        lo, hi = stats.binom.ppf([0.005, 0.995], len(r), 1.0 / nb)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(len(r) / nb, color="0.4", lw=1)
        ax.set_title(labels[j], fontsize=9)
        ax.set_xlabel("rank of the truth")
    for ax in list(axes.flat)[len(labels):]:
        ax.set_visible(False)
    fig.suptitle(title or "rank histograms (grey: 99% band of a calibrated posterior)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fit_all(source, mocks: Mocks, opts: dict[str, Any], workers: int | None,
             dask_scheduler: str | None, executor, progress: bool) -> list[dict[str, Any]]:
    """fit_task for every mock, in order; in this process, on workers or on Dask."""
    from ..engines import map_tasks
    from .catalog_object import fit_task

    if opts.get("posterior") is not None:  # the amortized route, with its fallback
        from ..amortized.route import fit_task

    ok = np.ones(len(mocks.bands), dtype=bool)
    tasks = [(source, {"row": int(r), "id": int(r), "z": float(z), "maggies": m, "unc": u, "ok": ok},
              opts) for r, z, m, u in zip(mocks.rows, mocks.z, mocks.maggies, mocks.unc)]
    results: list[Any] = [None] * len(tasks)
    for i, res in map_tasks(fit_task, tasks, workers=workers, dask_scheduler=dask_scheduler,
                            executor=executor, progress=progress, desc="calibrate", unit="mock"):
        results[i] = res
    return results


def run_calibration(source, mocks: Mocks, out: str | Path | None = None, *,
                    sampler_options: dict[str, Any] | None = None, workers: int | None = 1,
                    dask_scheduler: str | None = None, executor=None, progress: bool = True,
                    meta: dict[str, Any] | None = None) -> CalibrationReport:
    """Fit every mock and measure the calibration.

    Parameters
    ----------
    source : ModelSource
        The emulated model (:func:`prospect_emu.analysis.catalog_object.model_source`).
    mocks : Mocks
    out : path, optional
        Folder for calibration.ecsv, mocks.ecsv and ranks.png (nothing written if None).
    sampler_options : dict, optional
        Overrides of :data:`DEFAULT_SAMPLER` (``sampler``: dynesty, nautilus, emcee or
        module:function, and its settings, as for ``fit-catalog``).
    workers, dask_scheduler, executor
        Where to fit: this process (``workers=1``), local processes or a Dask cluster.
    """
    import time

    from .catalog_object import DEFAULT_SAMPLER_OPTIONS, resolve_sampler

    opts = dict(DEFAULT_SAMPLER_OPTIONS, **DEFAULT_SAMPLER)
    opts.update(sampler_options or {})
    resolve_sampler(opts["sampler"])
    t0 = time.perf_counter()
    results = _fit_all(source, mocks, opts, workers, dask_scheduler, executor, progress)
    seconds = time.perf_counter() - t0
    q = len(mocks.labels)
    fitted = np.array([i for i, r in enumerate(results) if r["draws"] is not None], dtype=int)
    if fitted.size == 0:
        msgs = {r["row"].get("message", "") for r in results}
        raise ConfigurationError(f"every fit failed: {sorted(msgs)[:3]}")
    draws = np.stack([results[i]["draws"][:, :q].astype(float) for i in fitted])
    keys = {"dynesty": ("nlive", "bound", "sample", "dlogz", "maxcall"), "nautilus": ("nlive", "maxcall"),
            "emcee": ("nwalkers", "niter", "nburn")}.get(opts["sampler"], tuple(opts))
    sampler = {k: opts[k] for k in ("sampler", *keys, "nsamples", "seed") if k in opts}
    meta = dict(meta or {}, source=mocks.source, emulator_error=source.emulator_error,
                emulator=source.emulator, sampler=_describe(sampler), n_mocks=len(mocks.rows),
                n_fitted=int(fitted.size), n_failed=int(len(results) - fitted.size),
                seconds=round(seconds, 2))
    routes = [str(results[i]["row"].get("route", "")) for i in fitted]
    if opts.get("posterior") is not None:
        meta.update(posterior=str(opts["posterior"]),
                    amortized_fraction=round(routes.count("amortized") / len(routes), 4))
    ndim = len(mocks.labels) - len(DERIVED_TRUTHS)
    lnp_truth, lnp_draws = posterior_densities(
        source, mocks.z[fitted], mocks.maggies[fitted], mocks.unc[fitted],
        mocks.truths[fitted][:, :ndim], draws[:, :, :ndim])
    meta.update(missed_modes=int(missed_modes(lnp_truth, lnp_draws).sum()),
                missed_modes_expected=round(fitted.size / (draws.shape[1] + 1), 4))
    report = CalibrationReport(None, mocks, draws, fitted, {}, seconds, routes, lnp_truth, lnp_draws)
    report.table = coverage_table(*report.quantities(), meta)
    if out is not None:
        report.paths = write_outputs(Path(out), report)
    return report


def _describe(opts: dict[str, Any]) -> str:
    name = opts.get("sampler")
    rest = ", ".join(f"{k}={v}" for k, v in opts.items() if k != "sampler" and v is not None)
    return f"{name} ({rest})"


def write_outputs(out: Path, report: CalibrationReport) -> dict[str, Path]:
    """calibration.ecsv, mocks.ecsv and ranks.png in ``out``."""
    from astropy.table import Table

    out.mkdir(parents=True, exist_ok=True)
    m = report.mocks
    labels, truths, draws = report.quantities()
    ranks = ranks_of(truths, draws)
    per = Table({"row": m.rows[report.fitted], "z": m.z[report.fitted]})
    if report.routes:
        per["route"] = report.routes
    pct = np.nanpercentile(draws, [2.5, 16, 50, 84, 97.5], axis=1)
    for j, name in enumerate(labels):
        per[f"{name}_truth"] = truths[:, j]
        for k, p in enumerate(("p2.5", "p16", "p50", "p84", "p97.5")):
            per[f"{name}_{p}"] = pct[k][:, j]
        per[f"{name}_rank"] = ranks[:, j]
    paths = {"table": out / "calibration.ecsv", "mocks": out / "mocks.ecsv",
             "ranks": out / "ranks.png"}
    report.table.write(paths["table"], overwrite=True)
    per.write(paths["mocks"], overwrite=True)
    rank_histograms(labels, ranks, paths["ranks"],
                    f"SBC ranks, {len(truths)} mocks (grey: 99% band of a calibrated posterior)")
    return paths


def calibrate(emulator: str | Path, testset: str | Path, out: str | Path, *, n: int = 100,
              snr: float | None = 20.0, uncertainties: str | Path | None = None,
              emulator_error: str = DEFAULT_ERROR_MODE, param_file: str | Path | None = None,
              sampler_options: dict[str, Any] | None = None, seed: int = 0,
              workers: int | None = 1, dask_scheduler: str | None = None, executor=None,
              progress: bool = True) -> CalibrationReport:
    """Calibrate an emulator's posteriors on ``n`` rows of an independent FSPS test set.

    Parameters
    ----------
    emulator, testset, out : path
        The emulator directory, a training-set file from ``prospect-emu generate
        --sampler prior`` with another seed (refused otherwise, see
        :func:`~prospect_emu.analysis.calibrate_mocks.check_calibration_set`), the output folder.
    n : int
        Mocks: the first ``n`` usable rows of the test set.
    snr : float
        Signal-to-noise of every band; ignored when ``uncertainties`` is given.
    uncertainties : path, optional
        A catalog whose per-band median fractional uncertainties make the noise.
    emulator_error, param_file
        As for ``fit-catalog`` (the model: the text stored in the emulator by default).
    sampler_options : dict, optional
        Overrides of :data:`DEFAULT_SAMPLER`.
    seed : int
        Seeds the noise (and, through ``sampler_options``, the fits).
    """
    from ..emulator.artifact import Emulator
    from ..trainingdata.trainingset import TrainingSet
    from .calibrate_mocks import (
        catalog_fractional_uncertainty,
        check_calibration_set,
        mocks_from_test_set,
    )
    from .catalog_object import build_model, model_source

    emu = Emulator.load(emulator)
    test = TrainingSet(testset)
    check_calibration_set(emu, test, emulator)
    if n < 1:
        raise ConfigurationError(f"--n must be at least 1 (got {n})")
    source = model_source(emulator, list(emu.filter_names), param_file, None, emulator_error, emu=emu)
    model, _ = build_model(source)
    frac = (catalog_fractional_uncertainty(uncertainties, list(emu.filter_names))
            if uncertainties is not None else None)
    mocks = mocks_from_test_set(emu, model, test, n, np.random.default_rng(seed), snr, frac)
    noise = f"noise from {uncertainties}" if uncertainties is not None else f"S/N {snr:g}"
    opts = dict(sampler_options or {})
    opts.setdefault("seed", seed)
    return run_calibration(source, mocks, out, sampler_options=opts, workers=workers,
                           dask_scheduler=dask_scheduler, executor=executor, progress=progress,
                           meta={"testset": str(testset), "noise": noise,
                                 "testset_seed": test.config.get("seed")})
