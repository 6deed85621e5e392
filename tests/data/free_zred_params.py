"""A Prospector 1.4.1 parameter file with the redshift free: the demo galaxy (15 bands,
prospect_emu/data/demo_galaxy.csv, made with FSPS at zred 0.8), parametric_sfh with
zred ~ TopHat(0.2, 2.0), inside the demo emulator's zred range [0, 3]."""

import os

from prospect.models import SpecModel, priors
from prospect.models.templates import TemplateLibrary

DEMO_PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "prospect_emu", "data", "demo_params.py")


def build_obs(**extras):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_demo_params_for_free_zred", DEMO_PARAMS)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo.build_obs()


def build_model(**extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"].update(isfree=True, init=1.0, prior=priors.TopHat(mini=0.2, maxi=2.0))
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None
