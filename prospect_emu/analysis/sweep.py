"""The architecture study: held-out error and inference time against layer width.

``prospect-emu sweep DATA.h5 --widths 32,64,128,256,512 --out DIR`` trains one emulator
per width on the same training set and split (the same seed), then measures in one run
each emulator's held-out error (median and 95th percentile of |delta mag| over every
band of the held-out rows, or of an independent ``--test`` set) and its numpy inference
time (one vector through ``predict_one``, and per SED in a batch).  Power laws
``error ~ N^a`` and ``time ~ N^b`` are fitted and printed beside Mathews et al. (2023):
``a = -1`` and ``b = 2``.  With an observational error, the smallest width whose 95th
percentile error stays below a chosen fraction of it is recommended.
"""

from __future__ import annotations

import json
import time
import timeit
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..emulator.artifact import Emulator
from ..emulator.transforms import asinh_mag
from ..errors import ConfigurationError
from ..trainingdata.trainingset import TrainingSet

PAPER_ERROR_EXPONENT = -1.0
PAPER_TIME_EXPONENT = 2.0
MAG_PER_FRAC = 2.5 / np.log(10.0)


def power_law_fit(n: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Least-squares fit of ``y = c * n**exponent`` in log space.

    Returns ``{"exponent", "coefficient", "exponent_err"}`` (the standard error of the
    exponent; NaN with two points).
    """
    x, v = np.log(np.asarray(n, float)), np.log(np.asarray(y, float))
    ok = np.isfinite(x) & np.isfinite(v)
    if ok.sum() < 2:
        raise ConfigurationError("a power law needs at least two widths with finite values")
    x, v = x[ok], v[ok]
    if ok.sum() > 2:
        (a, c), cov = np.polyfit(x, v, 1, cov=True)
        err = float(np.sqrt(cov[0, 0]))
    else:
        a, c = np.polyfit(x, v, 1)
        err = float("nan")
    return {"exponent": float(a), "coefficient": float(np.exp(c)), "exponent_err": err}


def inference_times(emu: Emulator, n_batch: int = 4096, seed: int = 0) -> dict[str, float]:
    """Seconds per call of ``predict_one`` and per SED of a batched forward pass (best of 5)."""
    rng = np.random.default_rng(seed)
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    xb = lo + rng.uniform(size=(n_batch, len(lo))) * (hi - lo)
    x1 = xb[0].copy()
    zb = emu.inputs(xb).astype(np.float32)
    number = 200
    one = min(timeit.repeat(lambda: emu.predict_one(x1), number=number, repeat=5)) / number
    batch = min(timeit.repeat(lambda: emu.forward(zb), number=3, repeat=5)) / 3 / n_batch
    return {"single_s": float(one), "batched_per_sed_s": float(batch)}


def heldout_abs_errors(emu: Emulator, x: np.ndarray, phot: np.ndarray, mfrac: np.ndarray) -> np.ndarray:
    """|emulated - true| asinh magnitudes, every band of every row (flattened)."""
    pred = emu.predict(x)
    return np.abs(pred.mags - asinh_mag(phot, emu.outputs.softening)).ravel()


def sweep(data_path: str | Path, out: str | Path, widths: Sequence[int], *, depth: int = 4,
          config=None, test_path: str | Path | None = None, obs_unc: float | None = None,
          fraction: float = 0.5, progress: bool = True) -> dict[str, Any]:
    """Train one emulator per width and measure error and speed in one run.

    Parameters
    ----------
    data_path : str or Path
        Training set (``prospect-emu generate``).
    out : str or Path
        Folder for the emulators (``width_N/``), ``sweep.json`` and ``sweep.png``.
    widths : sequence of int
        Layer widths; each network has ``depth`` hidden layers of that width.
    depth : int
    config : TrainConfig, optional
        The recipe for every width (its width and depth are replaced).
    test_path : str or Path, optional
        An independent test set; default: the held-out rows of the training split.
    obs_unc : float, optional
        Fractional observational flux error, for the recommendation.
    fraction : float
        Recommend the smallest width whose 95th percentile |delta mag| is at most
        ``fraction`` times the observational error in magnitudes.
    progress : bool
        A progress bar over the widths.

    Returns
    -------
    dict
        ``widths`` (per width: ``median_abs``, ``p95_abs``, ``single_s``,
        ``batched_per_sed_s``, ``train_seconds``, ``path``), ``error_fit`` and ``time_fit``
        (``exponent``, ``coefficient``, ``exponent_err``), the paper's exponents,
        ``recommended_width`` (or None), ``heldout`` (what the errors were measured on).
    """
    from ..emulator.training import TrainConfig, prepare, train

    widths = sorted({int(w) for w in widths})
    if len(widths) < 2 or widths[0] < 1:
        raise ConfigurationError(f"--widths needs at least two positive widths, got {widths}")
    if not 0 < fraction:
        raise ConfigurationError("--fraction must be positive")
    base = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if test_path is not None:
        test = TrainingSet(test_path)
        from .validate import emulator_residuals

        heldout = {"kind": "independent test set", "path": str(Path(test_path).resolve())}
    else:
        data = TrainingSet(data_path)
        prep = prepare(data, replace(base, width=widths[0], depth=depth))
        te = prep.split["test"]
        held = (prep.x[te], prep.phot[te], prep.mfrac[te])
        heldout = {"kind": "held-out rows of the training split", "n_rows": int(len(te))}
    rows = []
    for w in tqdm(widths, desc="sweep", unit="width", disable=not progress):
        t0 = time.perf_counter()
        emu = train(data_path, out / f"width_{w}", replace(base, width=w, depth=depth),
                    progress=False, keep_keras=False)
        seconds = time.perf_counter() - t0
        if test_path is not None:
            err = np.abs(emulator_residuals(emu, test)["d_mag"]).ravel()
        else:
            err = heldout_abs_errors(emu, *held)
        rows.append({"width": w, "median_abs": float(np.median(err)),
                     "p95_abs": float(np.quantile(err, 0.95)), "train_seconds": seconds,
                     "path": str(out / f"width_{w}"), **inference_times(emu)})
    n = [r["width"] for r in rows]
    result = {
        "depth": depth, "heldout": heldout, "widths": rows,
        "error_fit": power_law_fit(n, [r["median_abs"] for r in rows]),
        "p95_fit": power_law_fit(n, [r["p95_abs"] for r in rows]),
        "time_fit": power_law_fit(n, [r["single_s"] for r in rows]),
        "batched_time_fit": power_law_fit(n, [r["batched_per_sed_s"] for r in rows]),
        "paper": {"error_exponent": PAPER_ERROR_EXPONENT, "time_exponent": PAPER_TIME_EXPONENT},
        "recommended_width": None, "obs_unc": obs_unc, "fraction": fraction,
    }
    if obs_unc is not None:
        limit = fraction * MAG_PER_FRAC * obs_unc
        ok = [r["width"] for r in rows if r["p95_abs"] <= limit]
        result["recommended_width"] = ok[0] if ok else None
        result["limit_mag"] = limit
    (out / "sweep.json").write_text(json.dumps(result, indent=1))
    result["figure"] = str(_plot(result, out / "sweep.png"))
    return result


def _plot(result: dict[str, Any], path: Path) -> Path:
    from .plots import _plt, _save

    plt = _plt()
    n = np.array([r["width"] for r in result["widths"]], float)
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, fit, mark, lab in (("median_abs", "error_fit", "o", "median"),
                                ("p95_abs", "p95_fit", "s", "95th percentile")):
        f = result[fit]
        ax.plot(n, [r[key] for r in result["widths"]], mark, label=f"{lab} |d mag|")
        ax.plot(n, f["coefficient"] * n ** f["exponent"], "-", lw=1,
                label=f"fit N^{f['exponent']:.2f}")
    if result.get("limit_mag"):
        ax.axhline(result["limit_mag"], color="k", ls="--", lw=0.8, label="target")
    for key, fit, mark, lab in (("single_s", "time_fit", "o", "one vector"),
                                ("batched_per_sed_s", "batched_time_fit", "s", "per SED, batched")):
        f = result[fit]
        tx.plot(n, [r[key] * 1e6 for r in result["widths"]], mark, label=lab)
        tx.plot(n, 1e6 * f["coefficient"] * n ** f["exponent"], "-", lw=1,
                label=f"fit N^{f['exponent']:.2f}")
    for a, ylab in ((ax, "held-out |emulated - FSPS| [mag]"), (tx, "numpy inference [us]")):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("layer width N")
        a.set_ylabel(ylab)
        a.legend(frameon=False, fontsize=8)
    ax.set_title(f"error (paper: N^{PAPER_ERROR_EXPONENT:g})")
    tx.set_title(f"time (paper: N^{PAPER_TIME_EXPONENT:g})")
    return _save(fig, path)


def format_sweep(result: dict[str, Any]) -> str:
    """The sweep as a terminal table with the fitted exponents."""
    lines = [f"depth {result['depth']}; errors on {result['heldout']['kind']}",
             f"{'width':>6s} {'median|d|':>10s} {'p95|d|':>8s} {'one [us]':>9s} "
             f"{'batch [us/SED]':>14s} {'train [s]':>9s}"]
    for r in result["widths"]:
        lines.append(f"{r['width']:6d} {r['median_abs']:10.4f} {r['p95_abs']:8.4f} "
                     f"{r['single_s'] * 1e6:9.1f} {r['batched_per_sed_s'] * 1e6:14.3f} "
                     f"{r['train_seconds']:9.1f}")
    e, t = result["error_fit"], result["time_fit"]
    lines.append(f"error ~ N^{e['exponent']:.2f} +- {e['exponent_err']:.2f} (paper N^{PAPER_ERROR_EXPONENT:g});"
                 f" single-vector time ~ N^{t['exponent']:.2f} (paper N^{PAPER_TIME_EXPONENT:g});"
                 f" batched ~ N^{result['batched_time_fit']['exponent']:.2f}")
    if result.get("obs_unc") is not None:
        rec = result["recommended_width"]
        lines.append(f"recommended width: {rec if rec is not None else 'none of these'} (95th "
                     f"percentile <= {result['fraction']:g} x the observational error, "
                     f"{result['limit_mag']:.4f} mag)")
    return "\n".join(lines)
