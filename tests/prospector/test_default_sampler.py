"""The default sampler by the model's number of free parameters (issue 23, "fits that converge
here"): one table in the sampler registry (``DEFAULT_BY_DIMENSION``) behind ``fit`` /
``run_fit`` / ``compare`` and ``fit-catalog`` where no sampler is named, shown in the CLI help,
printed with the fit; a named sampler, a sampler's own option or a preset always wins.

The models are real Prospector models (no FSPS needed): the 5-parameter demo file and the
14-parameter (15 with ``--fit_redshift``) Prospector-alpha-like file written in Prospector's demo
style.  Their dimension is Prospector's own ``model.ndim``.
"""

from pathlib import Path

import pytest

import prospect_emu  # noqa: F401 - lets SpecModel build without SPS_HOME
from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED, mock_observation
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.fitting import build_run_params, run_fit
from prospect_emu.prospector.samplers import (
    DEFAULT_BY_DIMENSION,
    DimensionDefault,
    choose_sampler,
    get_sampler,
)
from prospect_emu.prospector.twin import emulate

OUTSIDE = Path(__file__).resolve().parents[1] / "data" / "outside_alpha_params.py"


def _ndim(path, **run_params) -> int:
    return load_param_file(path).build_model(**run_params).ndim


def _choice(argv, ndim, **kw):
    """What run_fit chooses for a command line ``argv`` and a model of ``ndim``."""
    rp = build_run_params(argv)
    given = {a[2:].replace("-", "_") for a in argv if a.startswith("--")}
    return choose_sampler({**{k: True for k in given}, "sampler_preset": rp["sampler_preset"]},
                          ndim, given, **kw)


def test_the_models_dimensions_are_prospectors():
    assert _ndim(DEMO_PARAMS, zred=DEMO_ZRED) == 5
    assert _ndim(OUTSIDE) == 14
    assert _ndim(OUTSIDE, fit_redshift=True) == 15


def test_fourteen_free_parameters_choose_nautilus_wide():
    for ndim in (_ndim(OUTSIDE), _ndim(OUTSIDE, fit_redshift=True)):
        c = _choice([], ndim)
        assert (c.sampler, c.preset, c.by_dimension) == ("nautilus", "wide", True)
        assert f"{ndim} free parameters" in c.describe() and "nautilus, preset wide" in c.describe()
    wide = get_sampler("nautilus").preset("wide").values
    assert wide["nautilus_nlive"] == 400 and wide["nautilus_neff"] == 1500


def test_the_demo_model_keeps_todays_default():
    """5 free parameters: dynesty with Prospector's own defaults, no preset (what fit ran before)."""
    c = _choice([], _ndim(DEMO_PARAMS, zred=DEMO_ZRED))
    assert (c.sampler, c.preset) == ("dynesty", None)
    assert build_run_params(["--objid", "7"])["dynesty"] is True


@pytest.mark.parametrize("argv,want", [
    (["--emcee"], ("emcee", None)),
    (["--dynesty"], ("dynesty", None)),
    (["--nautilus", "--preset", "fast"], ("nautilus", "fast")),
    (["--nested_maxcall", "500"], ("dynesty", None)),  # a sampler's own option names it
    (["--nwalkers", "64"], ("emcee", None)),
    (["--preset", "fast"], ("nautilus", "fast")),  # a preset wins over the table's preset
    (["--preset", "catalog"], ("nautilus", "catalog")),
    (["--optimize"], (None, None)),
])
def test_an_explicit_choice_wins_at_fourteen_parameters(argv, want):
    c = _choice(argv, 14)
    assert (c.sampler, c.preset) == want
    assert c.by_dimension == (argv[0] == "--preset")  # a preset alone: the table's sampler


def test_a_preset_alone_on_a_small_model():
    """``--preset demo`` on the demo model: dynesty's demo preset, as before the table; a preset
    only one sampler has picks that sampler."""
    c = _choice(["--preset", "demo"], 5)
    assert (c.sampler, c.preset) == ("dynesty", "demo")
    c = _choice(["--preset", "wide"], 5)
    assert (c.sampler, c.preset) == ("nautilus", "wide")
    assert _choice([], 5, sampler="emcee").sampler == "emcee"


def test_options_of_two_samplers_without_a_flag_are_refused():
    with pytest.raises(ConfigurationError, match="--dynesty, --emcee"):
        _choice(["--nested_maxcall", "5", "--nwalkers", "8"], 14)


def test_the_table_is_defined_once_and_shown_in_the_help(monkeypatch):
    from prospect_emu.cli import build_parser

    def helptext(command):
        sub = next(a for a in build_parser()._actions if a.dest == "command")
        return sub.choices[command].format_help()

    rows = (DEFAULT_BY_DIMENSION[0], DimensionDefault(11, "emcee", "demo", "catalog", "patched row"))
    monkeypatch.setattr("prospect_emu.prospector.samplers.registry.DEFAULT_BY_DIMENSION", rows)
    for command in ("fit", "compare", "fit-catalog"):
        text = " ".join(helptext(command).split())
        assert "11 or more free parameters: emcee" in text and "patched row" in text
        assert "fewer than 11 free parameters: dynesty" in text
    c = _choice([], 14)
    assert (c.sampler, c.preset) == ("emcee", "demo")
    assert _choice([], 10).sampler == "dynesty"


def test_run_fit_prints_and_records_the_choice(capsys, tmp_path):
    """The demo model through run_fit with no sampler named: dynesty chosen by the dimension,
    printed with why and stored in run_params (and so in the result file)."""
    twin = emulate(load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED), DEMO_EMULATOR)
    obs, _ = mock_observation(twin, 20.0, 3)
    fit = run_fit(DEMO_PARAMS, ["--zred", str(DEMO_ZRED), "--outfile", str(tmp_path / "f")],
                  emulator=DEMO_EMULATOR, obs=obs, seed=1, write=False,
                  sampler_options={"nlive": 40, "dlogz": 2.0, "nested_maxbatch": 0})
    out = capsys.readouterr().out
    assert "sampler dynesty, its own defaults: the default for 5 free parameters" in out
    assert fit.run_params["dynesty"] and not fit.run_params["nautilus"]
    assert fit.run_params["sampler_choice"].startswith("sampler dynesty")
    assert fit.output["sampling"][0] is not None


def test_fit_catalog_chooses_by_dimension_where_no_sampler_is_named():
    from prospect_emu.analysis.catalog import _sampler_options
    from prospect_emu.analysis.catalog_object import DEFAULT_SAMPLER_OPTIONS

    assert _sampler_options(None, 5) == DEFAULT_SAMPLER_OPTIONS  # today's default kept
    wide = _sampler_options({"seed": 3}, 14)
    assert (wide["sampler"], wide["preset"], wide["seed"]) == ("nautilus", "wide", 3)
    settings = get_sampler("nautilus").settings(wide["preset"], **{
        k: v for k, v in wide.items() if k not in ("sampler", "seed", "nsamples", "preset")})
    assert settings["nautilus_nlive"] == 400  # not the dynesty catalog preset's 150
    named = _sampler_options({"sampler": "emcee"}, 14)
    assert named["sampler"] == "emcee" and "preset" not in named
    assert _sampler_options({"nlive": 600}, 14)["nlive"] == 600
