"""``prospect-emu demo``: an emulated fit of a mock galaxy with a bundled demo emulator.

No FSPS and no SPS_HOME needed.  The mock is made by the demo emulator (by default the
spectral one, the more accurate in every band) at known parameters, chosen by a stated rule
(:data:`DEMO_MOCK_RULE`), with Gaussian noise.  The fit goes, as ``fit-catalog --posterior``
fits an object, through the emulator's bundled amortized posterior
(:data:`BUNDLED_POSTERIORS`): its draws weighted by the emulated posterior, exact to the
emulated likelihood where their effective sample size is high, else the batched emcee preset
(:data:`DEMO_EMCEE`) started from them (:func:`amortized_fit`); ``--emcee``, ``--dynesty``
and ``--nautilus`` choose a sampler instead.  The posterior summary
is printed against the truth with what its 95% intervals mean, and the corner plot, the SED
plot and Prospector's HDF5 result are written.  With ``compare=True`` (needs FSPS) the same
mock is also fitted with FSPS and the two posteriors are compared.

The demo's fit was chosen from the coverage it gives over many FSPS-made mocks
(``prospect-emu calibrate --posterior``, docs/trust.rst), not from one seed: a single
mock's truth falls outside a calibrated 95% interval in about 1 quantity in 20.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .options import DEFAULT_ERROR_MODE
from .prospector.samplers import get_sampler

DATA = Path(__file__).parent / "data"
DEMO_EMULATOR = DATA / "demo_emulator"
#: the bundled spectral demo emulator (``prospect-emu demo --spectral``)
DEMO_SPECTRAL_EMULATOR = DATA / "demo_spectral_emulator"
#: The demo model's amortized posterior (``fit-catalog --posterior``), made by
#: ``demos/make_demo_posterior.sh`` from the demo emulator.
DEMO_POSTERIOR = DATA / "demo_posterior"
#: The demo model's amortized posterior for the spectral demo emulator, made by
#: ``demos/make_demo_spectral_posterior.sh``: the demo's default fit goes through it.
DEMO_SPECTRAL_POSTERIOR = DATA / "demo_spectral_posterior"
#: the bundled amortized posterior of each bundled emulator that has one
BUNDLED_POSTERIORS = {DEMO_SPECTRAL_EMULATOR: DEMO_SPECTRAL_POSTERIOR, DEMO_EMULATOR: DEMO_POSTERIOR}
#: the demo's default: the spectral demo emulator, the more accurate of the two in every band
#: (``prospect-emu info``: independent-set p95 per band below the photometric one's)
DEFAULT_DEMO_EMULATOR = DEMO_SPECTRAL_EMULATOR
DEMO_PARAMS = DATA / "demo_params.py"
DEMO_ZRED = 0.8
#: truth of the FSPS-made demo galaxy (data/demo_galaxy.csv, the parameter file's build_obs)
DEMO_TRUTH = {"mass": 3e10, "logzsol": -0.3, "dust2": 0.5, "tage": 6.0, "tau": 1.0}
#: how the demo chooses its mock's truth
DEMO_MOCK_RULE = ("the prior median of every free parameter: the centre of the prior volume, "
                  "away from the prior's edges where the age-tau-mass degeneracy meets them")
#: the interval the demo checks the truth against
INTERVAL = (0.025, 0.975)
#: the bundled Prospector-alpha-class model (14 free parameters, 19 bands, zred 1), its
#: emulator and its FSPS-made mock galaxy (``demos/make_alpha_galaxy.py``)
ALPHA_PARAMS = DATA / "alpha_params.py"
ALPHA_EMULATOR = DATA / "alpha_emulator"
ALPHA_GALAXY_TRUTH = DATA / "alpha_galaxy_truth.json"
#: how the demo names each bundled emulator
BUNDLED_NAMES = {DEMO_SPECTRAL_EMULATOR: "the bundled spectral demo emulator",
                 DEMO_EMULATOR: "the bundled photometric demo emulator",
                 ALPHA_EMULATOR: "the bundled Prospector-alpha-class emulator"}


@dataclass(frozen=True)
class DemoModel:
    """A model ``prospect-emu demo --model NAME`` fits: its parameter file, bundled emulator,
    redshift, where its mock comes from and the sampler its dimension calls for."""

    params: Path
    emulator: Path
    zred: float
    #: the FSPS-made mock's truth (JSON beside the parameter file's ``build_obs`` table);
    #: None: the mock is made by the emulator at :data:`DEMO_MOCK_RULE`'s truth
    fsps_mock_truth: Path | None
    sampler: str
    preset: str
    description: str


#: the demo's models, by ``--model`` name
DEMO_MODELS = {
    "demo": DemoModel(DEMO_PARAMS, DEFAULT_DEMO_EMULATOR, DEMO_ZRED, None, "emcee", "demo",
                      "delayed-tau SFH, 5 free parameters, 15 bands"),
    "alpha": DemoModel(ALPHA_PARAMS, ALPHA_EMULATOR, 1.0, ALPHA_GALAXY_TRUTH, "nautilus", "wide",
                       "Prospector-alpha-class: continuity SFH in 7 bins, dust_type 4, dust "
                       "emission, AGN; 14 free parameters, 19 bands GALEX FUV to MIPS 24"),
}


def demo_model(name: str) -> DemoModel:
    """The :class:`DemoModel` called ``name``, or a clear error naming the choices."""
    from .errors import ConfigurationError

    if name not in DEMO_MODELS:
        raise ConfigurationError(f"--model {name!r}: the demo has {', '.join(DEMO_MODELS)}")
    return DEMO_MODELS[name]


def demo_mock_truth(model) -> dict[str, float]:
    """The demo mock's truth by :data:`DEMO_MOCK_RULE`: the prior median of each free parameter."""
    theta = model.prior_transform(np.full(model.ndim, 0.5))
    return {k: float(v) for k, v in zip(model.theta_labels(), theta)}


def mock_observation(model, snr: float, seed: int,
                     truth: dict[str, float] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Photometry of ``truth`` (default :data:`DEMO_TRUTH`) from ``model`` (emulated or FSPS),
    with noise at ``snr``."""
    from .paramfile import load_param_file
    from .prospector.fitting import noisy_observation

    base = load_param_file(DEMO_PARAMS).build_obs()
    truth = DEMO_TRUTH if truth is None else truth
    theta = np.array([truth[k] for k in model.theta_labels()])
    _, phot, _ = model.predict(theta, obs=base)
    return noisy_observation(base, phot, snr, np.random.default_rng(seed)), theta


#: the demo's sampler settings: each sampler's ``demo`` preset, defined once in the sampler
#: registry (:mod:`prospect_emu.prospector.samplers`, with why they were chosen) and listed by
#: ``prospect-emu demo --help``
DEMO_PRESET = "demo"
#: the demo's nautilus and emcee settings (the registry's ``demo`` presets, as dicts)
DEMO_NAUTILUS = dict(get_sampler("nautilus").preset(DEMO_PRESET).values)
DEMO_EMCEE = dict(get_sampler("emcee").preset(DEMO_PRESET).values)


def demo_calibration_options(seed: int | None = 0, posterior: str | Path | None = None
                             ) -> dict[str, Any]:
    """The demo's emcee preset as ``fit-catalog`` / ``calibrate`` sampler options; with
    ``posterior``, the demo's default fit: that amortized posterior's route (its default
    options), the emcee preset its fallback (``calibrate --posterior``)."""
    opts = {"sampler": "emcee", "nwalkers": int(DEMO_EMCEE["nwalkers"]),
            "niter": int(DEMO_EMCEE["niter"]),
            "nburn": [int(v) for v in DEMO_EMCEE["nburn"]], "seed": seed}
    if posterior is not None:
        from .amortized.route import ROUTE_OPTIONS

        opts.update(ROUTE_OPTIONS, posterior=str(posterior))
    return opts


def sampler_argv(sampler: str, nlive: int | None = None) -> list[str]:
    """Prospector-style options of the demo fit for ``sampler`` ('dynesty', 'nautilus' or
    'emcee'; the registry's ``demo`` preset; ``nlive`` is ignored for emcee), for scripts and
    benchmarks that drive ``prospect-emu fit``."""
    return get_sampler(sampler).argv(DEMO_PRESET, nlive=nlive)


def run_demo(out: str | Path = "prospect_emu_demo", compare: bool = False, seed: int = 42,
             snr: float = 20.0, nlive: int | None = None,
             emulator: str | Path | None = None, sampler: str | None = None,
             model: str = "demo") -> dict[str, Any]:
    """Run the demo; return the summary rows and the paths written.

    ``sampler`` None: through the emulator's bundled amortized posterior where it has one
    (:func:`amortized_fit`), else the model's sampler; or 'emcee' (batched,
    :data:`DEMO_EMCEE`), 'dynesty' (Prospector's) or 'nautilus' (batched proposals,
    :mod:`prospect_emu.prospector.samplers`); ``nlive``
    the live points of the last two (default 200).  ``model``: a name of :data:`DEMO_MODELS`
    ('demo', or 'alpha' for the bundled Prospector-alpha-class model); its sampler and
    preset unless ``sampler`` is given (then the ``demo`` preset).  ``emulator``: the
    model's bundled emulator by default, or any emulator of it, e.g. :data:`DEMO_EMULATOR`.
    The demo model's mock is made by the emulator at :data:`DEMO_MOCK_RULE`'s truth with
    noise at ``snr``; the alpha model's is the FSPS-made galaxy of its parameter file
    (``demos/make_alpha_galaxy.py``: the same rule, S/N 20 and a deep field's depth).
    """
    from .analysis.derived import derived_quantities, sfh_age_and_sfr
    from .analysis.plots import corner_overlay, sed_plot
    from .analysis.posterior import weighted_quantile
    from .errors import ConfigurationError
    from .paramfile import load_param_file
    from .prospector.fitting import run_fit
    from .prospector.twin import emulate

    spec = demo_model(model)
    emulator = spec.emulator if emulator is None else emulator
    if not (Path(emulator) / "emulator.json").is_file():
        raise ConfigurationError(f"no emulator at {emulator} (emulator.json missing): give an "
                                 f"emulator directory of the {model!r} demo model")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    module = load_param_file(spec.params)
    twin = emulate(module.build_model(zred=spec.zred), emulator, error=DEFAULT_ERROR_MODE)
    if spec.fsps_mock_truth is None:
        truth = demo_mock_truth(twin)
        obs, truth_theta = mock_observation(twin, snr, seed, truth)
    else:
        stored = json.loads(Path(spec.fsps_mock_truth).read_text())
        truth, snr, obs = stored["theta"], stored["snr"], module.build_obs()
        truth_theta = np.array([truth[k] for k in twin.theta_labels()])
    same = sampler in (None, spec.sampler)
    how = {"sampler": sampler or spec.sampler, "preset": spec.preset if same else DEMO_PRESET,
           "sampler_options": {"nlive": nlive}}
    argv = ["--zred", str(spec.zred)]
    posterior = BUNDLED_POSTERIORS.get(Path(emulator).resolve()) if sampler is None else None
    if posterior is not None and (posterior / "posterior.json").is_file():
        fit, sampler, route = amortized_fit(spec, argv + ["--outfile", str(out / "demo")],
                                            emulator, twin, obs, posterior, seed)
    else:
        sampler, route = how["sampler"], None
        fit = run_fit(spec.params, argv + ["--outfile", str(out / "demo")], emulator=emulator,
                      emulator_error=DEFAULT_ERROR_MODE, obs=obs, seed=seed, **how)
    samples, weights = fit.samples()
    labels = fit.model.theta_labels()
    rows = []
    for j, name in enumerate(labels):
        lo, med, hi = weighted_quantile(samples[:, j], [INTERVAL[0], 0.5, INTERVAL[1]], weights)
        p16, p84 = weighted_quantile(samples[:, j], [0.16, 0.84], weights)
        t = truth_theta[j]
        rows.append({"quantity": name, "p16": p16, "median": med, "p84": p84, "truth": t,
                     "within_95": bool(lo <= t <= hi)})
    draws = fit.equal_weight_samples(500, seed)
    derived = derived_quantities(fit.model, draws, obs)
    _, _, mfrac_true = fit.model.predict(truth_theta, obs=obs)   # sets the parameters
    formed_true = float(np.sum(fit.model.params["mass"]))
    age_true, sfr_true = sfh_age_and_sfr(fit.model.params)
    for name, t in (("stellar_mass", formed_true * mfrac_true), ("mass_weighted_age", age_true),
                    ("sfr_100myr", sfr_true)):
        v = derived[name]
        lo, p16, med, p84, hi = np.percentile(v, [2.5, 16, 50, 84, 97.5])
        rows.append({"quantity": name, "p16": p16, "median": med, "p84": p84, "truth": t,
                     "within_95": bool(lo <= t <= hi)})
    _, best_phot, _ = fit.model.predict(fit.best_theta(), obs=obs)
    paths = {"result": fit.hfile,
             "corner": corner_overlay({"emulated fit": (samples, weights)}, labels, out / "corner.png",
                                      truths=truth_theta,
                                      log_columns=[labels.index(k) for k in ("mass",) if k in labels]),
             "sed": sed_plot(obs, {"emulated best fit": best_phot}, out / "sed.png",
                             title=f"{model} mock galaxy, z = {spec.zred}, S/N = {snr:g}")}
    summary = {"rows": rows, "seconds": fit.seconds, "ncall": fit.ncall, "paths": paths,
               "sampler": sampler, "route": route, "truth_rule": DEMO_MOCK_RULE, "zred": spec.zred, "snr": snr,
               "model": model, "mock": "FSPS" if spec.fsps_mock_truth else "emulator",
               "convergence": (fit.output["sampling"][0] or {}).get("convergence")}
    if compare:
        from .analysis.compare import compare as compare_fits

        truth = dict(zip(labels, truth_theta))
        truth.update({r["quantity"]: r["truth"] for r in rows[len(labels):]})
        cmp = compare_fits(spec.params, emulator, out / "compare", argv, seed=seed, obs=obs,
                           truth=truth, **how)
        summary["compare"] = cmp
    return summary


def amortized_fit(spec: DemoModel, argv: list[str], emulator: str | Path, model,
                  obs: dict[str, Any], posterior: Path, seed: int):
    """The demo's default fit, as ``fit-catalog --posterior`` fits an object: ``posterior``'s
    draws weighted by the emulated posterior (:mod:`prospect_emu.amortized.route`, its
    default options), or, where their effective sample size is low, the emcee ``demo``
    preset started from them.  ``(FitResult, the sampler's name, how it was fitted)``; the
    result file is written as :func:`~prospect_emu.prospector.fitting.run_fit` writes it."""
    import time

    from .amortized.posterior import AmortizedPosterior
    from .amortized.route import ROUTE_OPTIONS, fallback_starts, importance_output, importance_step
    from .prospector.fitting import FitResult, fit_run_params, run_fit, write_result
    from .prospector.samplers import REGISTRY

    post = AmortizedPosterior.load(posterior)
    post.check_model(model, emulator)
    t0 = time.perf_counter()
    route = dict(ROUTE_OPTIONS)
    imp, reason = importance_step(post, model, obs, spec.zred, route, seed)
    seconds = time.perf_counter() - t0
    if reason is not None:
        fit = run_fit(spec.params, argv, emulator=emulator, emulator_error=DEFAULT_ERROR_MODE,
                      obs=obs, seed=seed, sampler="emcee", preset=DEMO_PRESET,
                      sampler_options={} if imp is None
                      else {"starts": fallback_starts(imp, route)})
        fit.seconds += seconds  # the importance step's too
        fit.ncall = (fit.ncall or 0) + (0 if imp is None else imp.ncall)
        start = ("its walkers started from the amortized posterior's draws" if imp is not None
                 else "the amortized posterior does not apply")
        return fit, "emcee", f"fitted by the emcee demo preset, {start} ({reason})"
    output = importance_output(imp, model, obs, seconds)
    how = (f"amortized: the bundled amortized posterior's proposals ({imp.ncall} with its "
           f"refinement rounds), weighted by the emulated posterior (effective sample size "
           f"{imp.ess:.0f})")
    run_params = fit_run_params(spec.params, argv, emulator=emulator,
                                emulator_error=DEFAULT_ERROR_MODE)
    run_params.update({n: False for n in REGISTRY}, sampler_choice=how,
                      amortized_posterior=str(Path(posterior).resolve()))
    hfile = Path(f"{run_params['outfile']}_result.h5")
    write_result(hfile, run_params, model, obs, output, None)
    return (FitResult(hfile, output, obs, model, None, run_params, seconds, imp.ncall),
            "amortized", how)


#: what the demo's "in 95%" column means, printed under the table
INTERVAL_NOTE = ("in 95%: whether the truth lies in the central 95% posterior interval (2.5th to "
                 "97.5th percentile). A calibrated posterior holds the truth there for 95% of mocks, "
                 "so about 1 quantity in 20 falls outside by design, and quantities tied by a "
                 "degeneracy (mass, tage, tau, stellar mass, mass-weighted age) fall outside "
                 "together. Coverage over many mocks: prospect-emu calibrate.")


#: printed when the sampler's own convergence checks failed (the emcee preset on this posterior)
CONVERGENCE_NOTE = ("Convergence: the sampler's strict checks (50 autocorrelation times, split "
                    "R-hat across walkers) failed on this fit, as they do for the demo's emcee "
                    "preset on the age-tau degeneracy; the preset was chosen instead by how often "
                    "its intervals hold the truth over 100 FSPS mocks (95% coverage 0.90-0.97, "
                    "docs/trust.rst). For a converged fit of this galaxy: prospect-emu demo "
                    "--dynesty (a few seconds).")


def format_summary(summary: dict[str, Any]) -> str:
    """The posterior summary against the truth, as text, with what the 95% column means."""
    import textwrap

    lines = []
    if summary.get("truth_rule"):
        made = "made with FSPS" if summary.get("mock") == "FSPS" else "made by the emulator"
        lines.append(f"{summary.get('model', 'demo')} mock galaxy ({made}) at z = {summary['zred']}, "
                     f"S/N {summary['snr']:g}; truth: {summary['truth_rule']}")
    lines.append(f"{'quantity':18s} {'p16':>11s} {'median':>11s} {'p84':>11s} {'truth':>11s}  in 95%")
    for r in summary["rows"]:
        lines.append(f"{r['quantity']:18s} {r['p16']:11.4g} {r['median']:11.4g} {r['p84']:11.4g} "
                     f"{r['truth']:11.4g}  {'yes' if r['within_95'] else 'NO'}")
    calls = f", {summary['ncall']} likelihood calls" if summary.get("ncall") else ""
    lines.append(f"emulated {summary.get('sampler', 'dynesty')} fit: {summary['seconds']:.1f} s{calls}")
    if summary.get("route"):
        lines += textwrap.wrap(summary["route"], 96)
    lines += textwrap.wrap(INTERVAL_NOTE, 96)
    conv = summary.get("convergence")
    if conv and not conv.get("converged", True):
        lines += textwrap.wrap(CONVERGENCE_NOTE if summary.get("model", "demo") == "demo" else
                               "Convergence: the sampler's own convergence checks failed on this "
                               "fit; the result file records them.", 96)
    missed = [r["quantity"] for r in summary["rows"] if not r["within_95"]]
    if missed:
        lines += textwrap.wrap(
            f"Here {len(missed)} of {len(summary['rows'])} quantities fall outside ({', '.join(missed)}):"
            " a calibrated posterior does this for about 1 quantity in 20 (more at once along a "
            "degeneracy); one mock cannot tell a calibrated posterior from a biased one, the "
            "coverage over many mocks can.", 96)
    return "\n".join(lines)
