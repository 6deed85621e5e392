"""``prospect-emu train-posterior``: simulate a catalog through the emulator and train the
amortized posterior on it (:class:`PosteriorConfig` holds every option, defined once)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..options import opt, parse_pair
from .flow import FlowSpec, load_arrays, train_flow
from .posterior import SCHEMA, WEIGHTS_FILE, AmortizedPosterior, emulator_hash, prior_description
from .simulate import NoiseModel, Simulator
from .space import Features, ThetaSpace


@dataclasses.dataclass
class PosteriorConfig:
    """How the amortized posterior is simulated and trained (``train-posterior --help``)."""

    simulations: int = opt(500_000, "simulated galaxies to train on")
    zred: tuple[float, float] | None = opt(None, "redshift range of the simulations (default: "
                                           "the emulator's)", metavar="LO,HI",
                                           parse=parse_pair("--zred", "0.2,2.5"))
    snr: tuple[float, float] = opt((5.0, 100.0), "per-galaxy S/N range (log-uniform)",
                                   metavar="LO,HI", parse=parse_pair("--snr", "5,100"))
    snr_scatter_dex: float = opt(0.1, "per-band scatter of the S/N (dex)")
    missing: float = opt(0.1, "probability that a band is not measured")
    emulator_scatter: bool = opt(True, "scatter the simulated photometry by the emulator's "
                                 "held-out residual covariance (as FSPS differs from it)")
    noise_catalog: str | None = opt(None, "take each simulated galaxy's uncertainties and "
                                    "missing bands from a random row of this catalog (columns "
                                    "as for fit-catalog) instead of --snr", metavar="CATALOG")
    flux_unit: str = opt("maggies", "unit of --noise-catalog's uncertainties")
    family: str = opt("gmm", "the conditional density: gmm (a Gaussian mixture, fast to draw "
                      "from) or nsf (a neural spline flow)", choices=("gmm", "nsf"))
    components: int = opt(12, "gmm: mixture components")
    transforms: int = opt(5, "nsf: spline transforms")
    hidden: int = opt(128, "width of the network's two hidden layers")
    epochs: int = opt(200, "passes over the simulations at most")
    batch: int = opt(512, "simulations per gradient step")
    learning_rate: float = opt(1e-3, "Adam's initial learning rate (halved on plateaus)")
    max_minutes: float = opt(25.0, "stop training after this long, keeping the best weights")
    seed: int = opt(0, "seeds the simulations and the training")
    threads: int | None = opt(None, "PyTorch threads (default: PyTorch's)")
    continue_from: str | None = opt(None, "continue training the network of this posterior "
                                    "(a run that ended at --max-minutes or was interrupted): "
                                    "its coordinates and feature scaling are kept; the other "
                                    "simulation and network options must be its own; --out "
                                    "may be the same folder", metavar="DIR")


#: Options a continued training must share with the posterior it continues.
_KEPT = ("zred", "snr", "snr_scatter_dex", "missing", "emulator_scatter", "noise_catalog",
         "flux_unit", "family", "components", "transforms", "hidden")


def _noise(cfg: PosteriorConfig, bands: list[str]) -> NoiseModel:
    catalog_unc = None
    if cfg.noise_catalog:
        from ..analysis.catalog_io import load_catalog

        data = load_catalog(cfg.noise_catalog, bands, flux_unit=cfg.flux_unit)
        catalog_unc = np.where(data.band_ok & (data.unc > 0), data.unc, np.nan)
    return NoiseModel(snr=tuple(cfg.snr), snr_scatter_dex=cfg.snr_scatter_dex,
                      missing=cfg.missing, catalog_unc=catalog_unc)


def train_posterior(emulator: str | Path, out: str | Path, config: PosteriorConfig | None = None,
                    *, param_file: str | Path | None = None, run_params: dict | None = None,
                    progress: bool = True, **options: Any) -> AmortizedPosterior:
    """Simulate ``config.simulations`` galaxies from the model's prior through the emulator,
    observe them with the noise model and train the flow; save it to ``out``.

    The best weights so far are saved to ``out`` after every epoch that improved them, so a
    crash or an interrupt (which ends training like the time limit) loses nothing; with
    ``continue_from`` the network of an earlier posterior trains on, and its history is
    kept in ``posterior.json`` (``earlier_training``).

    Parameters
    ----------
    emulator : path
        An emulator, photometric or spectral; its training bands are the posterior's.
    out : path
        The folder to write (``posterior.json``, ``flow.npz``).
    config : PosteriorConfig, optional
    param_file : path, optional
        The model; default: the parameter-file text stored in the emulator.
    run_params : dict, optional
        Passed to ``build_model``.
    **options
        Fields of :class:`PosteriorConfig` replacing ``config``'s.
    """
    from ..analysis.catalog_object import build_model, model_source
    from ..emulator.artifact import Emulator

    cfg = dataclasses.replace(config or PosteriorConfig(), **options)
    emu = Emulator.load(emulator)
    bands = list(emu.filter_names)
    source = model_source(emulator, bands, param_file, run_params, emu=emu)
    model, _ = build_model(source)
    earlier = _Earlier.load(cfg, model, emulator) if cfg.continue_from else None
    sim = Simulator(model, bands, emulator_scatter=cfg.emulator_scatter)
    zred = _zred_range(cfg, sim)
    noise = _noise(cfg, bands)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    sims = sim.simulate(cfg.simulations, noise, rng, zred, progress=progress)
    sim_seconds = time.perf_counter() - t0
    maggies, unc = np.nan_to_num(sims["maggies"]), np.nan_to_num(sims["unc"], nan=1.0)
    if earlier is not None:
        space, features = earlier.space, earlier.features
    else:
        space = ThetaSpace.from_prior(list(model.theta_labels()), _prior_bounds(model),
                                      sims["theta"])
        features = Features.fit(bands, Features.raw(maggies, unc, sims["measured"], sims["zred"]),
                                sims["measured"])
    y, _ = space.to_flow(sims["theta"])
    ctx = features(maggies, unc, sims["measured"], sims["zred"])
    spec = earlier.spec if earlier is not None else FlowSpec(
        model.ndim, ctx.shape[1], cfg.family, cfg.components, cfg.transforms,
        (cfg.hidden, cfg.hidden))
    meta = {"schema": SCHEMA, "flow": spec.to_json(), "theta_space": space.to_json(),
            "features": features.to_json(), "zred_range": list(zred),
            "band_missing_fraction": (~sims["measured"]).mean(axis=0).tolist(),
            "noise": noise.to_json(), "emulator": str(emulator),
            "emulator_sha256": emulator_hash(emulator), "priors": prior_description(model),
            "param_file": source.param_path, "config": _jsonable(dataclasses.asdict(cfg)),
            "simulations": int(len(y)), "simulation_seconds": round(sim_seconds, 1)}
    if earlier is not None:
        meta["earlier_training"] = earlier.history
    from ..provenance import package_versions, utc_now

    meta["provenance"] = {"created": utc_now(), "versions": package_versions()}

    def checkpoint(flow, report) -> None:  # the best weights so far survive a crash
        AmortizedPosterior({**meta, "training": report.to_json()}, flow).save(out)

    flow, report = train_flow(spec, y, ctx, epochs=cfg.epochs, batch=cfg.batch,
                              lr=cfg.learning_rate, max_minutes=cfg.max_minutes, seed=cfg.seed,
                              threads=cfg.threads, progress=progress,
                              init=earlier.arrays if earlier is not None else None,
                              on_best=checkpoint)
    checkpoint(flow, report)  # the final record: how and when training stopped
    return AmortizedPosterior.load(out)  # as fits use it (the mixture in numpy)


def _zred_range(cfg: PosteriorConfig, sim: Simulator) -> tuple[float, float]:
    zred = tuple(cfg.zred) if cfg.zred is not None else sim.zred_range()
    zlo, zhi = sim.zred_range()
    if zred[0] < zlo - 1e-9 or zred[1] > zhi + 1e-9:
        raise ConfigurationError(f"--zred {zred[0]},{zred[1]} reaches outside the emulator's "
                                 f"redshifts [{zlo}, {zhi}]")
    return (max(zred[0], 1e-3), zred[1])


@dataclasses.dataclass
class _Earlier:
    """The posterior a training continues: its network's arrays, coordinates, feature
    scaling and training history."""

    spec: FlowSpec
    arrays: dict[str, np.ndarray]
    space: ThetaSpace
    features: Features
    history: list[dict[str, Any]]

    @classmethod
    def load(cls, cfg: PosteriorConfig, model, emulator: str | Path) -> _Earlier:
        path = Path(cfg.continue_from)
        post = AmortizedPosterior.load(path)
        post.check_model(model, emulator)
        before = post.meta.get("config", {})
        now = _jsonable(dataclasses.asdict(cfg))
        differ = [k for k in _KEPT if k in before and before[k] != now[k]]
        if differ:
            opts = ", ".join(f"--{k.replace('_', '-')} {before[k]!r} (not {now[k]!r})"
                             for k in differ)
            raise ConfigurationError(f"--continue-from {path}: that posterior was trained with "
                                     f"{opts}; continue it with its own options")
        history = list(post.meta.get("earlier_training", [])) + [post.meta["training"]]
        return cls(FlowSpec.from_json(post.meta["flow"]),
                   load_arrays(path / WEIGHTS_FILE), post.space, post.features, history)


def _prior_bounds(model) -> np.ndarray:
    """Each free parameter's prior bounds ``(ndim, 2)`` (inf where open)."""
    out = np.empty((model.ndim, 2))
    for name, sl in model.theta_index.items():
        prior = model.config_dict[name]["prior"]
        lo, hi = (np.broadcast_to(np.asarray(b, dtype=float), (sl.stop - sl.start,))
                  for b in prior.bounds())
        out[sl, 0], out[sl, 1] = lo, hi
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
