"""Speed of the spectral emulator kind against its references, measured in one run.

Usage:  SPS_HOME=... python benchmarks/bench_spectral.py SPECTRAL_EMU [--quick] [--no-fsps]

1. Photometry only (fixed zred): ``emu.photometry(x, plan)`` and one ``lnprobfn`` call
   through the likelihood's fast path, beside the photometric demo emulator's
   ``predict_one`` and ``lnprobfn`` in the same bands, and beside the previous
   implementation of the spectral fast path (full filter span [lo, hi), unfolded
   network: reproduced here from its formulas), for three band sets.
2. Spectroscopy (needs SPS_HOME): Prospector's own ``SpecModel.predict`` on a
   2000-pixel observed spectrum (3800-9000 AA, zred 0.5), with FSPS (``CSPSpecBasis``,
   warm: every isochrone metallicity built first) and with ``EmulatedSPS``; and the
   emulated twin's ``predict`` (``EmulatedSpecModel``).  Between calls logzsol, dust2,
   tage and tau vary (rows "Z varies"), or all but logzsol (rows "Z fixed"); spectrum
   only, and spectrum plus the 12 photometric bands of the test parameter file.

Timings interleave the candidates and keep the best of several repeats (wall clock, one
BLAS thread), so that a loaded machine slows them alike; ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARAM_FILE = ROOT / "tests" / "data" / "delayed_tau_params.py"
BAND_SETS = {"3 adjacent (g r i)": ["sdss_g0", "sdss_r0", "sdss_i0"],
             "3 apart (FUV r W1)": ["galex_FUV", "sdss_r0", "wise_w1"],
             "12 (test file's bands)": ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0",
                                        "sdss_r0", "sdss_i0", "sdss_z0", "twomass_J",
                                        "twomass_H", "twomass_Ks", "wise_w1", "wise_w2"]}


def interleaved(fns: dict, number: int, repeat: int) -> dict[str, float]:
    """Best seconds per call of each function, the candidates run in turn per repeat."""
    best = {k: np.inf for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(number):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / number)
    return best


class OldSpectralNetwork:
    """The spectral fast path before this change (unfolded network, whole filter span)."""

    def __init__(self, emu, plan, two_soft):
        self.emu, self.two_soft = emu, two_soft
        self.layers = emu._fast_layers
        self.offset = np.ascontiguousarray(emu._mean_ln[plan.lo:plan.hi])
        self.basis = np.ascontiguousarray(emu._basis_ln[:, plan.lo:plan.hi])
        self.matrix = plan.matrix

    def photometry(self, x):
        c, mfrac = self.emu.coefficients_one(x)
        return np.exp(self.offset + c @ self.basis) @ self.matrix, mfrac

    def forward_one(self, s):
        z = s[:-1]
        for w, b, act in self.layers:
            z = np.dot(z, w)
            z += b
            if act is not None:
                z = act(z)
        z = z.astype(float)
        phot = np.exp(self.offset + z[:-1] @ self.basis) @ self.matrix
        out = np.empty(len(phot) + 1)
        out[:-1] = np.arcsinh(phot / self.two_soft)
        out[-1] = z[-1] * np.log(10.0)
        return out


def _band_set(demo, spec, pf, bands, zred, x5, number, repeat):
    """(span, pixels, timings) of one band set."""
    from sedpy.observate import load_filters

    from prospect_emu.prospector.likelihood import fast_plan, lnprobfn
    from prospect_emu.prospector.twin import emulate

    x4 = x5[:4]
    filters = load_filters(bands)
    plan = spec.photometry_plan(filters, zred)
    dplan = demo.photometry_plan(filters)
    twins = {}
    for name, emu in (("demo", demo), ("spec", spec)):
        twin = emulate(pf.build_model(zred=zred), emu, error="none")
        twin.params["mass"] = np.atleast_1d(1e10)
        obs = {"filters": filters, "maggies": np.ones(len(bands)) * 1e-9,
               "maggies_unc": np.ones(len(bands)) * 1e-10, "wavelength": None,
               "spectrum": None, "phot_mask": np.ones(len(bands), dtype=bool)}
        twins[name] = (twin, obs, twin.theta.copy())
    twin, obs, theta = twins["spec"]
    op = fast_plan(twin, obs)
    new_net, fused = op.net, op._fused
    old_net = OldSpectralNetwork(spec, plan, op.net.two_soft)
    lnp_new = lnprobfn(theta, model=twin, obs=obs)
    op.net, op._fused = old_net, None  # the old network, called by the plan (no compiled call)
    lnp_old = lnprobfn(theta, model=twin, obs=obs)
    op.net, op._fused = new_net, fused
    assert abs(lnp_new - lnp_old) <= 1e-4 * abs(lnp_old) + 1e-6, (lnp_new, lnp_old)
    dt, dobs, dth = twins["demo"]

    def lnp_old_fn():
        op.net, op._fused = old_net, None
        lnprobfn(theta, model=twin, obs=obs)
        op.net, op._fused = new_net, fused

    t = interleaved({
        "demo predict_one": lambda: demo.predict_one(x5),
        "demo photometry": lambda: demo.photometry(x5, dplan),
        "spec photometry old": lambda: old_net.photometry(x4),
        "spec photometry new": lambda: spec.photometry(x4, plan),
        "demo lnprobfn": lambda: lnprobfn(dth, model=dt, obs=dobs),
        "spec lnprobfn old": lnp_old_fn,
        "spec lnprobfn new": lambda: lnprobfn(theta, model=twin, obs=obs),
    }, number, repeat)
    return plan.hi - plan.lo, len(plan.pixels), t


def photometry_section(spec_dir: str, quick: bool) -> list[tuple]:
    from prospect_emu.demo import DEMO_EMULATOR
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.paramfile import load_param_file

    pf = load_param_file(PARAM_FILE)
    demo, spec = Emulator.load(DEMO_EMULATOR), Emulator.load(spec_dir)
    zred = 1.0
    number, repeat = (300, 3) if quick else (2000, 7)
    x5 = np.array([-0.2, 0.4, 3.0, 2.0, zred])  # demo inputs: logzsol dust2 tage tau zred
    rows = []
    for label, bands in BAND_SETS.items():
        rows.append((label, *_band_set(demo, spec, pf, bands, zred, x5, number, repeat)))
    return rows


def _thetas(model, n, rng, logzsol=None):
    out = []
    for _ in range(n):
        th = model.theta.copy()
        for p, lo, hi in (("logzsol", -0.5, 0.0), ("dust2", 0.1, 1.5), ("tage", 1.0, 8.0),
                          ("tau", 0.5, 5.0)):
            if p in model.theta_index:
                th[model.theta_index[p]] = rng.uniform(lo, hi) if p != "logzsol" or \
                    logzsol is None else logzsol
        out.append(th)
    return out


def spectroscopy_section(spec_dir: str, quick: bool) -> list[tuple]:
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.sps import EmulatedSPS
    from prospect_emu.prospector.twin import emulate

    pf = load_param_file(PARAM_FILE)
    emu = Emulator.load(spec_dir)
    zred = 0.5
    wave = np.linspace(3800.0, 9000.0, 2000)
    filters = pf.build_obs()["filters"]
    base = {"wavelength": wave, "spectrum": np.ones(2000), "unc": np.ones(2000),
            "mask": np.ones(2000, dtype=bool), "maggies": None, "maggies_unc": None,
            "filters": None}
    sps, esps = pf.build_sps(), EmulatedSPS(emu)
    model = pf.build_model(zred=zred)
    twin = emulate(pf.build_model(zred=zred), emu)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for z in np.linspace(-0.5, 0.0, 12):  # warm: every isochrone metallicity in range built
        for th in _thetas(model, 2, rng, logzsol=z):
            model.predict(th, obs=base, sps=sps)
    warm = time.perf_counter() - t0
    n_fsps, n_emu = (5, 50) if quick else (30, 400)
    rows = []
    for olabel, obs in (("spectrum", base), ("spectrum + 12 bands", dict(base, filters=filters))):
        twin.predict(twin.theta, obs)  # plans and range checks once
        for zlabel, zfix in (("Z varies", None), ("Z fixed", -0.3)):
            res = {}
            for _ in range(1 if quick else 3):
                for name, fn, n in (
                        ("FSPS", lambda th, o=obs: model.predict(th, obs=o, sps=sps), n_fsps),
                        ("EmulatedSPS", lambda th, o=obs: model.predict(th, obs=o, sps=esps), n_emu),
                        ("twin", lambda th, o=obs: twin.predict(th, o), n_emu)):
                    ths = _thetas(model, n, rng, logzsol=zfix)
                    t = time.perf_counter()
                    for th in ths:
                        fn(th)
                    res[name] = min(res.get(name, np.inf), (time.perf_counter() - t) / n)
            rows.append((olabel, zlabel, res))
    return rows, warm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("emulator", help="a spectral emulator directory")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-fsps", action="store_true", help="leave out the spectroscopy rows")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    from prospect_emu.emulator.artifact import Emulator

    emu = Emulator.load(args.emulator)
    net = emu.meta["network"]
    print(f"spectral emulator {args.emulator}: {net['depth']} x {net['width']} "
          f"{net['activation']}, {emu.n_components} components, {len(emu.wavelength)} "
          f"wavelengths; demo photometric emulator 4 x 128 alsing; one BLAS thread")
    print("\n1. photometry only, zred 1 (us per call; x: ratio to the demo's predict_one / "
          "lnprobfn)")
    hdr = (f"{'bands':24s} {'span':>5s} {'pix':>4s} | {'demo p_one':>10s} {'spec old':>9s} "
           f"{'spec new':>9s} {'new x':>6s} | {'demo lnp':>9s} {'spec old':>9s} {'spec new':>9s} "
           f"{'new x':>6s}")
    print(hdr)
    for label, span, pix, t in photometry_section(args.emulator, args.quick):
        u = {k: v * 1e6 for k, v in t.items()}
        print(f"{label:24s} {span:5d} {pix:4d} | {u['demo predict_one']:10.1f} "
              f"{u['spec photometry old']:9.1f} {u['spec photometry new']:9.1f} "
              f"{u['spec photometry new'] / u['demo predict_one']:6.2f} | "
              f"{u['demo lnprobfn']:9.1f} {u['spec lnprobfn old']:9.1f} "
              f"{u['spec lnprobfn new']:9.1f} {u['spec lnprobfn new'] / u['demo lnprobfn']:6.2f}")
    if args.no_fsps or not os.environ.get("SPS_HOME"):
        print("\n2. spectroscopy: skipped (SPS_HOME unset or --no-fsps)")
        return
    rows, warm = spectroscopy_section(args.emulator, args.quick)
    print(f"\n2. SpecModel.predict, 2000-pixel spectrum, zred 0.5 (ms per call; FSPS warmed in "
          f"{warm:.0f} s)")
    print(f"{'observation':22s} {'between calls':14s} {'FSPS':>8s} {'EmulatedSPS':>12s} "
          f"{'twin':>8s} {'FSPS/Emu':>9s} {'FSPS/twin':>10s}")
    for olabel, zlabel, r in rows:
        print(f"{olabel:22s} {zlabel:14s} {r['FSPS'] * 1e3:8.2f} {r['EmulatedSPS'] * 1e3:12.3f} "
              f"{r['twin'] * 1e3:8.3f} {r['FSPS'] / r['EmulatedSPS']:9.1f} "
              f"{r['FSPS'] / r['twin']:10.1f}")


if __name__ == "__main__":
    sys.exit(main())
