"""Make tests/data/demo_spectral_reference.npz: FSPS truth for tests/test_demo_spectral.py.

30 parameter vectors of the demo model (prospect_emu/data/demo_params.py) drawn from its
prior (seed 20261126, not a seed of any training or validation set), zred uniform in
[0, 3]; for each, through Prospector 1.4.1 + python-fsps directly (no prospect-emu code):

* ``spec``: the rest-frame spectrum ``SpecModel._spec`` (L_nu, Lsun/Hz per Msun formed) on
  every 8th FSPS pixel between 1000 AA and 2.5 um (``wave``);
* ``maggies``: the observed photometry in the demo's 15 bands at the row's zred;
* ``mfrac``, ``theta`` (in ``theta_labels`` order), ``zred``.

Needs SPS_HOME (the shared BaSTI + BT-Settl test tree the bundled emulators were trained
on).  Run from the repository root:  python tests/data/make_demo_spectral_reference.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "demo_spectral_reference.npz"
N, SEED, STRIDE, RANGE = 30, 20261126, 8, (1000.0, 25000.0)


def main() -> None:
    spec = importlib.util.spec_from_file_location("demo_params",
                                                  ROOT / "prospect_emu/data/demo_params.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    obs = demo.build_obs(phot_file="/nonexistent")  # filters only
    obs.update(wavelength=None, spectrum=None, maggies=None)
    sps = demo.build_sps()
    rng = np.random.default_rng(SEED)
    model = demo.build_model(zred=0.0)
    labels = list(model.theta_labels())
    rows = {k: [] for k in ("theta", "zred", "spec", "maggies", "mfrac")}
    pix = None
    for _ in range(N):
        zred = float(rng.uniform(0.0, 3.0))
        model = demo.build_model(zred=zred)
        theta = model.prior_transform(rng.uniform(size=len(labels)))
        _, maggies, mfrac = model.predict(theta, obs=obs, sps=sps)
        wave = np.asarray(model._wave, dtype=float)
        if pix is None:
            pix = np.flatnonzero((wave >= RANGE[0]) & (wave <= RANGE[1]))[::STRIDE]
        rows["theta"].append(theta)
        rows["zred"].append(zred)
        rows["spec"].append(np.asarray(model._spec, dtype=float)[pix])
        rows["maggies"].append(np.asarray(maggies, dtype=float))
        rows["mfrac"].append(float(np.squeeze(mfrac)))
    np.savez_compressed(OUT, wave=wave[pix], theta_labels=np.array(labels),
                        filters=np.array(demo.DEMO_FILTERS),
                        **{k: np.array(v) for k, v in rows.items()})
    print(f"wrote {OUT}: {N} rows, {len(pix)} wavelengths")


if __name__ == "__main__":
    main()
