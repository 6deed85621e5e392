"""Prospector computes depends_on parameters in config_dict order from model.params as it
stands: with mass (logsfr_ratios_to_masses, reading agebins) before agebins tied to a free
zred (TemplateLibrary["continuity_sfh"] + zred_to_agebins), each call used the previous
call's age bins.  fix_known_transforms orders them.  Expected values come from Prospector's
own transforms called directly, with the age bins of the current zred."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prospect.models import SpecModel, transforms

from prospect_emu.dependencies import fix_known_transforms, lagged_dependencies, order_dependencies
from prospect_emu.paramfile import load_param_file

ALPHA = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "alpha_params.py"


def _theta(model, zred: float) -> np.ndarray:
    theta = model.theta.copy()
    theta[model.theta_index["zred"]] = zred
    theta[model.theta_index["logsfr_ratios"]] = [0.3, -0.2, 0.5, 0.1, -0.4, 0.2]
    return theta


def _expected_mass(model, zred: float) -> np.ndarray:
    bins = transforms.zred_to_agebins(zred=zred, agebins=model.params["agebins"])
    return transforms.logsfr_ratios_to_masses(
        logmass=model.params["logmass"], logsfr_ratios=np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.2]),
        agebins=bins)


def test_masses_follow_the_age_bins_of_the_current_zred_after_one_call():
    model = load_param_file(ALPHA).build_model(free_zred=True)
    fix_known_transforms(model)
    derived = [k for k, v in model.config_dict.items() if "depends_on" in v]
    assert derived.index("agebins") < derived.index("mass")
    for zred in (0.7, 5.5, 0.7, 2.0):   # each zred right after another
        model.set_parameters(_theta(model, zred))
        np.testing.assert_allclose(model.params["mass"], _expected_mass(model, zred), rtol=1e-12)


def test_without_the_order_prospector_uses_the_previous_calls_bins():
    """The fault this guards against, shown on Prospector's own order (so the test above
    can fail): the masses after zred 5.5 then 0.7 are those of zred 5.5's bins."""
    model = load_param_file(ALPHA).build_model(free_zred=True)
    model.config_dict["agebins"]["depends_on"] = _scalar(transforms.zred_to_agebins)
    model.set_parameters(_theta(model, 5.5))
    model.set_parameters(_theta(model, 0.7))
    assert not np.allclose(model.params["mass"], _expected_mass(model, 0.7), rtol=1e-3)
    np.testing.assert_allclose(model.params["mass"], _expected_mass(model, 5.5), rtol=1e-12)


def test_the_order_keeps_free_parameters_and_leaves_a_model_in_order_alone():
    model = load_param_file(ALPHA).build_model(free_zred=True)
    free = list(model.free_params)
    assert order_dependencies(model) == ["agebins", "mass", "dust1"]
    assert order_dependencies(model) == []
    assert list(model.free_params) == free and model.theta_labels()[0] == "zred"
    fixed = load_param_file(ALPHA).build_model(free_zred=False)
    assert order_dependencies(fixed) == []   # agebins fixed: mass and dust1 read no derived


def test_lagged_pairs_are_those_read_before_they_are_computed_and_that_vary():
    """Prospector's order lags mass behind agebins only where agebins follows a free zred."""
    model = load_param_file(ALPHA).build_model(free_zred=True)
    assert lagged_dependencies(model) == [("mass", "agebins")]
    order_dependencies(model)
    assert lagged_dependencies(model) == []
    tied = dict(load_param_file(ALPHA).build_model(free_zred=True).config_dict)
    tied["zred"] = {**tied["zred"], "isfree": False}   # age bins tied to a fixed zred
    fixed = SpecModel(tied)
    derived = [k for k, v in fixed.config_dict.items() if "depends_on" in v]
    assert derived.index("mass") < derived.index("agebins")  # Prospector's order, no lag
    assert lagged_dependencies(fixed) == []


def _scalar(func):
    def wrapper(**params):
        params["zred"] = float(np.ravel(params["zred"])[0])
        return func(**params)
    return wrapper
