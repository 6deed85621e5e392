"""A legacy Prospector parameter file: the v1.4.1 demo style with SedModel."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delayed_tau_params as base  # noqa: E402
from prospect.models import SedModel  # noqa: E402
from prospect.models.templates import TemplateLibrary  # noqa: E402

build_obs = base.build_obs
build_noise = base.build_noise


def build_model(zred=0.5, **extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = zred
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    return SedModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)
