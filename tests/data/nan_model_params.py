"""A parameter file whose model returns NaN photometry for dust2 > 1.5 (real FSPS runs;
the model then spoils its output), to test that failed rows are kept and reported."""

import numpy as np
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary


class SometimesNaNModel(SpecModel):
    def predict(self, theta, obs=None, sps=None, **extras):
        spec, phot, mfrac = super().predict(theta, obs=obs, sps=sps, **extras)
        if self.params["dust2"][0] > 1.5:
            phot = phot * np.nan
        return spec, phot, mfrac


def build_model(**extras):
    params = TemplateLibrary["parametric_sfh"]
    params["logzsol"]["prior"].params.update(mini=-0.3, maxi=0.0)
    return SometimesNaNModel(params)


def build_sps(**extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=1)
