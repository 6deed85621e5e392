"""The two routes an existing parameter file can take with an emulated model (issue 21):

* the drop-in route: Prospector's own ``prospect.fitting.lnprobfn`` on the emulated twin
  (a script that keeps ``fit_model``'s default ``lnprobfn``), which runs the twin's fast
  ``prior_product``, ``set_parameters`` and ``predict``;
* the switch's route: the ``lnprobfn`` that ``use_emulator`` returns (the compiled path).

Both are compared, row by row, with Prospector's ``lnprobfn`` on the same emulated model
computed the slow general way: Prospector's base-class ``prior_product`` and
``set_parameters``, and photometry from ``Emulator.predict`` (the artifact's numpy batch
path) times ``mass (1 + z) / (d_L / 10 pc)^2`` with astropy's WMAP9 distance.  Rows: prior
draws, rows outside the prior (every free parameter below and above its range), and
``nested=True``.  No FSPS needed.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from astropy.cosmology import WMAP9
from prospect.fitting import lnprobfn as prospector_lnprobfn
from prospect.models import SpecModel, priors
from prospect.models.templates import TemplateLibrary

from prospect_emu import use_emulator
from prospect_emu.prospector.likelihood import lnprobfn as emu_lnprobfn
from prospect_emu.prospector.twin import emulate
from tests.conftest import DATA, FLOAT32_RTOL

sys.path.insert(0, str(DATA))
import delayed_tau_params as pf  # noqa: E402


class SlowReference:
    """An emulated model evaluated the slow general way, for Prospector's ``lnprobfn``."""

    def __init__(self, twin, filters):
        self.twin, self.params = twin, twin.params
        names = list(twin.emulator.filter_names)
        self.idx = np.array([names.index(f.name) for f in filters])
        self.last_phot = None

    def prior_product(self, theta, nested=False):
        return SpecModel.prior_product(self.twin, theta, nested=nested)

    def set_parameters(self, theta):
        SpecModel.set_parameters(self.twin, theta)

    def predict(self, theta, obs=None, sps=None, sigma_spec=None):
        p = self.params
        x = np.array([p[n][0] for n in self.twin.emulator.input_names], dtype=float)
        pred = self.twin.emulator.predict(x, strict=True)  # ValueError outside the box: -inf
        z = float(p["zred"][0])
        dl10 = WMAP9.luminosity_distance(z).to("pc").value / 10.0
        self.last_phot = pred.phot[self.idx] * float(np.sum(p["mass"])) * (1 + z) / dl10 ** 2
        return np.zeros(0), self.last_phot, float(pred.mfrac)


def _plain_models():
    """(name, Prospector model): the test parameter file at a fixed zred; with zred free;
    with a ``depends_on`` parameter (the general, non-direct parameter path)."""
    fixed = pf.build_model(zred=0.8)
    free = TemplateLibrary["parametric_sfh"]
    free["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    free["zred"].update(isfree=True, init=1.0, prior=priors.TopHat(mini=0.1, maxi=2.9))
    dep = TemplateLibrary["parametric_sfh"]
    dep["zred"]["init"] = 0.5
    dep["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    dep["tau_over_tage"] = {"N": 1, "isfree": False, "init": 1.0,
                            "depends_on": lambda tau=None, tage=None, **extras: tau / tage}
    return [("fixed zred", fixed), ("free zred", SpecModel(free)), ("depends_on", SpecModel(dep))]


MODELS = _plain_models()


def _rows(model, rng, n=25):
    """Prior draws, then each free parameter just below and just above its prior range."""
    rows = [SpecModel.prior_transform(model, rng.uniform(size=model.ndim)) for _ in range(n)]
    lo, hi = (np.array(b, dtype=float) for b in zip(*model.theta_bounds()))
    centre = SpecModel.prior_transform(model, np.full(model.ndim, 0.5))
    for i in range(model.ndim):
        for v in (lo[i] - 0.01 * (hi[i] - lo[i]) - 1e-3, hi[i] * 1.01 + 1e-3):
            th = centre.copy()
            th[i] = v
            rows.append(th)
    return rows


def _tolerance(ref_lnp, ref_phot, obs):
    """1e-6 relative, plus what float32 rounding of the network (``FLOAT32_RTOL`` in flux)
    can move the Gaussian: sum |data - model| / var * |delta model|."""
    if ref_phot is None or not np.isfinite(ref_lnp):
        return 0.0
    d = np.abs(obs["maggies"] - ref_phot) / obs["maggies_unc"] ** 2
    return 1e-6 * abs(ref_lnp) + float(np.sum(d * FLOAT32_RTOL * np.abs(ref_phot)))


@pytest.mark.parametrize("name, plain", MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("nested", [False, True])
def test_both_routes_equal_the_slow_general_path(demo_emulator, name, plain, nested):
    obs = pf.build_obs()
    obs["phot_mask"] = obs["phot_mask"].copy()
    obs["phot_mask"][3] = False  # a masked band: both routes must drop it
    twin, route_lnp = use_emulator(plain, {"emulator": str(demo_emulator), "emulator_error": "none"})
    assert route_lnp is emu_lnprobfn
    ref = SlowReference(emulate(plain, demo_emulator, error="none"), obs["filters"])
    rows = _rows(plain, np.random.default_rng(3))
    n_inf = 0
    for theta in rows:
        ref.last_phot = None
        expect = prospector_lnprobfn(theta, model=ref, obs=obs, nested=nested)
        dropin = prospector_lnprobfn(theta, model=twin, obs=obs, nested=nested)
        switch = route_lnp(theta, model=twin, obs=obs, nested=nested)
        if not np.isfinite(expect):
            n_inf += 1
            assert dropin == switch == expect == -np.inf, (theta, dropin, switch)
            continue
        tol = _tolerance(expect, ref.last_phot, obs)
        assert dropin == pytest.approx(expect, rel=0, abs=tol), theta
        assert switch == pytest.approx(expect, rel=0, abs=tol), theta
        # the two routes share only the network: everything else agrees to rounding
        assert switch == pytest.approx(dropin, rel=1e-9), theta
    assert n_inf >= 2 * plain.ndim  # the out-of-prior rows


@pytest.mark.parametrize("name, plain", MODELS, ids=[m[0] for m in MODELS])
def test_set_parameters_equals_prospectors(demo_emulator, name, plain):
    twin = emulate(plain, demo_emulator, error="none")
    base = emulate(plain, demo_emulator, error="none")
    for theta in _rows(plain, np.random.default_rng(5), n=5):
        twin.set_parameters(theta)
        SpecModel.set_parameters(base, theta)
        assert twin.params.keys() == base.params.keys()
        for k in base.params:
            np.testing.assert_array_equal(np.atleast_1d(twin.params[k]), np.atleast_1d(base.params[k]),
                                          err_msg=k)
        np.testing.assert_array_equal(twin.theta, theta)
    theta[0] = 123.0  # the model keeps its own copy
    assert twin.params[twin.theta_labels()[0]][0] != 123.0
    with pytest.raises(AssertionError):  # Prospector's own check of the length
        twin.set_parameters(theta[:-1])


def test_prospector_lnprobfn_warns_that_it_drops_emulator_error(demo_emulator):
    obs = pf.build_obs()
    twin, route_lnp = use_emulator(pf.build_model(zred=0.8),
                                   {"emulator": str(demo_emulator), "emulator_error": "diag"})
    theta = twin.theta.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        route_lnp(theta, model=twin, obs=obs)  # the switch's route: no warning
        twin.set_parameters(theta)  # not from Prospector's lnprobfn: no warning
    with pytest.warns(UserWarning, match=r"emulator_error='diag'.*lnprobfn=lnprobfn"):
        prospector_lnprobfn(theta, model=twin, obs=obs)
    with warnings.catch_warnings():  # once per model
        warnings.simplefilter("error")
        prospector_lnprobfn(theta, model=twin, obs=obs)
    quiet = emulate(pf.build_model(zred=0.8), demo_emulator, error="none")
    with warnings.catch_warnings():  # nothing is dropped without emulator error
        warnings.simplefilter("error")
        prospector_lnprobfn(theta, model=quiet, obs=obs)


def test_switch_without_emulator_keeps_prospector():
    model = pf.build_model()
    got, fn = use_emulator(model, {"emulator": None})
    assert got is model and fn is prospector_lnprobfn
