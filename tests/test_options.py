"""Options defined once (issue 22): the configuration dataclasses are the CLI's options.

Every command-line field of GenerateConfig, TrainConfig and CatalogConfig is an option of
its subcommand with the dataclass's default and help; a command line parses into the
dataclass written out by hand here; a field added to a dataclass appears on the command line
with no other edit; the error modes and their default have one definition.  No FSPS needed.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from prospect_emu.analysis.catalog_config import CatalogConfig
from prospect_emu.analysis.catalog_io import BandColumns
from prospect_emu.cli import build_parser, main
from prospect_emu.cli.build_commands import SWEEP_TRAIN_OPTIONS
from prospect_emu.emulator.training_base import TrainConfig
from prospect_emu.errors import ConfigurationError
from prospect_emu.options import (
    DEFAULT_ERROR_MODE,
    ERROR_MODES,
    REQUIRED,
    add_options,
    from_args,
    opt,
    parse_pair,
)
from prospect_emu.trainingdata.generate_config import GenerateConfig

PACKAGE = Path(__file__).resolve().parents[1] / "prospect_emu"
# (subcommand, config class, the fields it takes; None: every command-line field)
COMMANDS = [("generate", GenerateConfig, None), ("train", TrainConfig, None),
            ("sweep", TrainConfig, SWEEP_TRAIN_OPTIONS), ("fit-catalog", CatalogConfig, None)]
# fields kept off the command line, on purpose
LIBRARY_ONLY = {TrainConfig: {"softening_fraction", "extra"}, GenerateConfig: set(),
                CatalogConfig: set()}


def _subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices[command]


def _fields(cls, only=None):
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)
            and (only is None or f.name in only)]


def _default(f):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _parse(argv: list[str]) -> argparse.Namespace:
    args, _ = build_parser().parse_known_args(argv)
    return args


@pytest.mark.parametrize("command,cls,only", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_field_is_an_option_with_the_dataclass_default_and_help(command, cls, only):
    parser = _subparser(command)
    actions = {a.dest: a for a in parser._actions}
    text = " ".join(parser.format_help().split())
    fields = _fields(cls, only)
    assert fields and (only is None or {f.name for f in fields} == set(only))
    for f in fields:
        action = actions.get(f.name)
        assert action is not None, f"{cls.__name__}.{f.name} is not an option of {command}"
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        assert action.option_strings[0] == flag
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert action.required, f.name
        else:
            assert action.default == _default(f), f.name
        if f.metadata.get("choices") is not None:
            assert tuple(action.choices) == tuple(f.metadata["choices"])
        help_text = " ".join(f.metadata["help"].split())
        assert help_text and help_text[:30] in text, f.name
        assert flag in text
    off = {f.name for f in dataclasses.fields(cls)} - {f.name for f in _fields(cls)}
    assert off == LIBRARY_ONLY[cls]


def test_help_shows_the_defaults():
    text = " ".join(_subparser("train").format_help().split())
    assert "--width WIDTH neurons per hidden layer (default: 128)" in text
    assert "(default: 0.001:128,0.0005:256" in text  # the schedule as the command line spells it
    text = " ".join(_subparser("generate").format_help().split())
    assert "(default: 0.001,0.999)" in text and "(default: auto)" in text
    assert "plus 10%;" in text  # a % in a help text is not an argparse format
    text = " ".join(_subparser("fit-catalog").format_help().split())
    assert "(default: summary.ecsv)" in text and "(default: diag)" in text


def test_generate_command_line_gives_the_config():
    base = ["generate", "p.py", "--out", "x.h5", "--n", "50"]
    assert from_args(GenerateConfig, _parse(base)) == GenerateConfig(n=50)
    args = _parse(base + ["--seed", "3", "--sampler", "uniform", "--range", "zred=0,4",
                          "--range", "tage=1,2", "--prior-quantiles", "0.01,0.99",
                          "--block-param", "none", "--block-size", "5", "--share-spectrum", "4",
                          "--chunk-size", "25", "--store-spectrum", "--wave-range", "900,3e4",
                          "--workers", "2", "--dask-scheduler", "tcp://h:8786", "--resume",
                          "--overwrite"])
    expect = GenerateConfig(n=50, seed=3, sampler="uniform",
                            ranges={"zred": (0.0, 4.0), "tage": (1.0, 2.0)},
                            prior_quantiles=(0.01, 0.99), block_param=None, block_size=5,
                            share_spectrum=4, chunk_size=25, store_spectrum=True,
                            wave_range=(900.0, 30000.0), workers=2,
                            dask_scheduler="tcp://h:8786", resume=True, overwrite=True)
    assert from_args(GenerateConfig, args) == expect
    assert from_args(GenerateConfig, _parse(base + ["--block-param", "dust2"])).block_param == "dust2"


def test_train_and_sweep_command_lines_give_the_config():
    base = ["train", "d.h5", "--out", "e"]
    assert from_args(TrainConfig, _parse(base)) == TrainConfig()
    args = _parse(base + ["--width", "64", "--depth", "3", "--activation", "gelu",
                          "--schedule", "1e-3:128,1e-4:1024:500", "--decay", "cosine",
                          "--steps", "900", "--val-frac", "0.2", "--max-minutes", "2.5",
                          "--kind", "spectrum", "--pixel-weight-power", "0.25",
                          "--provenance", "FSPS MIST"])
    expect = TrainConfig(width=64, depth=3, activation="gelu",
                         schedule=((1e-3, 128), (1e-4, 1024, 500)), decay="cosine", steps=900,
                         val_frac=0.2, max_minutes=2.5, kind="spectrum", pixel_weight_power=0.25,
                         provenance="FSPS MIST")
    assert from_args(TrainConfig, args) == expect
    args = _parse(["sweep", "d.h5", "--out", "o", "--depth", "2", "--epochs", "15",
                   "--schedule", "3e-3:256", "--seed", "4"])
    assert from_args(TrainConfig, args) == TrainConfig(depth=2, epochs=15, schedule=((3e-3, 256),),
                                                       seed=4)


def test_fit_catalog_command_line_gives_the_config():
    base = ["fit-catalog", "cat.ecsv", "--emulator", "e", "--out", "o"]
    default = from_args(CatalogConfig, _parse(base))
    assert default == CatalogConfig()
    assert default.sampler_options() == {"nsamples": 1000, "seed": 0}  # the rest: the preset's
    args = _parse(base + ["--emulator-error", "cov", "--map", "sdss_r0=r:r_err",
                          "--map", "sdss_g0=g:g_err:g_flag", "--flux-unit", "nJy",
                          "--z-column", "zspec", "--missing-value", "-99", "--sampler", "emcee",
                          "--nburn", "3", "4", "--nwalkers", "32", "--nsamples", "200",
                          "--summary", "s.fits", "--max-objects", "7", "--full-results"])
    expect = CatalogConfig(emulator_error="cov",
                           column_map={"sdss_r0": BandColumns("sdss_r0", "r", "r_err", None),
                                       "sdss_g0": BandColumns("sdss_g0", "g", "g_err", "g_flag")},
                           flux_unit="nJy", z_column="zspec", missing_value=-99.0,
                           sampler="emcee", nburn=[3, 4], nwalkers=32, nsamples=200,
                           summary_name="s.fits", max_objects=7, full_results=True)
    got = from_args(CatalogConfig, args)
    assert got == expect
    assert got.sampler_options() == {"sampler": "emcee", "nsamples": 200, "seed": 0,
                                     "nwalkers": 32, "nburn": [3, 4]}


@pytest.mark.parametrize("argv,words", [
    (["train", "d.h5", "--out", "e", "--schedule", "1e-3"], "--schedule '1e-3': use LR:BATCH"),
    (["generate", "p.py", "--out", "x", "--n", "5", "--range", "zred"], "use NAME=LO,HI"),
    (["generate", "p.py", "--out", "x", "--n", "5", "--prior-quantiles", "0.1"], "use LO,HI"),
    (["fit-catalog", "c", "--emulator", "e", "--out", "o", "--map", "r"], "--map 'r'"),
])
def test_bad_composite_values_are_configuration_errors(argv, words, capsys, tmp_path):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


# ---- the helper itself, on a throwaway dataclass -------------------------------------------
@dataclasses.dataclass
class Toy:
    count: int = opt(REQUIRED, "how many")
    alpha: int = opt(3, "the alpha")
    beta_gamma: float | None = opt(None, "the beta", metavar="X")
    switch: bool = opt(False, "turn it on")
    keep: bool = opt(True, "keep it")
    pair: tuple = opt((1.0, 2.0), "a pair", metavar="LO,HI", parse=parse_pair("--pair"))
    name: str = opt("x", "a name", flag="--nm", choices=("x", "y"))
    tags: list = opt([], "tags", cli=False)


def _toy_parser(cls=Toy) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    add_options(parser, cls)
    return parser


def test_a_dataclass_becomes_options_and_back():
    parser = _toy_parser()
    assert from_args(Toy, parser.parse_args(["--count", "2"])) == Toy(count=2)
    args = parser.parse_args(["--count", "2", "--alpha", "5", "--beta-gamma", "0.5", "--switch",
                              "--no-keep", "--pair", "3,4", "--nm", "y"])
    assert from_args(Toy, args) == Toy(count=2, alpha=5, beta_gamma=0.5, switch=True, keep=False,
                                       pair=(3.0, 4.0), name="y")
    assert from_args(Toy, args, alpha=9).alpha == 9  # values given win
    with pytest.raises(SystemExit):
        parser.parse_args(["--alpha", "5"])  # --count is required
    with pytest.raises(SystemExit):
        parser.parse_args(["--count", "1", "--nm", "z"])  # not a choice
    with pytest.raises(ConfigurationError, match="--pair '3': use LO,HI"):
        from_args(Toy, parser.parse_args(["--count", "1", "--pair", "3"]))
    text = " ".join(parser.format_help().split())
    for words in ("--count COUNT how many", "--alpha ALPHA the alpha (default: 3)",
                  "--beta-gamma X the beta", "--switch turn it on", "--pair LO,HI a pair "
                  "(default: 1.0,2.0)", "--nm {x,y} a name (default: x)"):
        assert words in text, words
    assert "--tags" not in text and "(default: None)" not in text


def test_a_field_added_to_a_config_shows_up_on_the_command_line():
    bigger = dataclasses.make_dataclass("Bigger", [("delta", int, opt(7, "the new option"))],
                                        bases=(Toy,))
    parser = _toy_parser(bigger)
    assert "--delta DELTA the new option (default: 7)" in " ".join(parser.format_help().split())
    assert from_args(bigger, parser.parse_args(["--count", "1"])).delta == 7
    assert from_args(bigger, parser.parse_args(["--count", "1", "--delta", "8"])).delta == 8


def test_a_field_without_help_or_a_type_is_refused():
    no_help = dataclasses.make_dataclass("NoHelp", [("x", int, dataclasses.field(default=1))])
    with pytest.raises(TypeError, match="needs help text"):
        _toy_parser(no_help)
    untyped = dataclasses.make_dataclass("Untyped", [("x", tuple, opt((1, 2), "a tuple"))])
    with pytest.raises(TypeError, match="parse"):
        _toy_parser(untyped)


# ---- defined once --------------------------------------------------------------------------
def test_the_error_modes_have_one_definition():
    from prospect_emu.analysis.calibrate import calibrate
    from prospect_emu.analysis.catalog_object import model_source
    from prospect_emu.emulator import kernels
    from prospect_emu.prospector.model import EmulatedSpecModel
    from prospect_emu.prospector.twin import emulate

    assert ERROR_MODES == ("none", "diag", "cov") and DEFAULT_ERROR_MODE in ERROR_MODES
    assert list(kernels.MODES) == list(ERROR_MODES) and sorted(kernels.MODES.values()) == [0, 1, 2]
    for func, name in ((EmulatedSpecModel.__init__, "emulator_error"), (emulate, "error"),
                       (calibrate, "emulator_error"), (model_source, "emulator_error")):
        assert inspect.signature(func).parameters[name].default == DEFAULT_ERROR_MODE, func
    assert CatalogConfig().emulator_error == DEFAULT_ERROR_MODE
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    seen = []
    for command, parser in sub.choices.items():
        for action in parser._actions:
            if "--emulator-error" in action.option_strings:
                seen.append(command)
                assert tuple(action.choices) == ERROR_MODES, command
    assert {"fit", "fit-catalog", "compare", "calibrate"} <= set(seen)
    # the literal tuple appears once in the package
    hits = [p for p in PACKAGE.rglob("*.py") if '("none", "diag", "cov")' in p.read_text()]
    assert [p.name for p in hits] == ["options.py"]


def _flags_written_by_hand(command: str) -> set[str]:
    """The option strings that ``add_<command>`` in the CLI writes itself (``add_argument``)."""
    name = "add_" + command.replace("-", "_")
    for path in (PACKAGE / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return {a.value for c in ast.walk(node) if isinstance(c, ast.Call)
                        and getattr(c.func, "attr", "") == "add_argument"
                        for a in c.args if isinstance(a, ast.Constant)}
    raise AssertionError(f"no {name} in the CLI")


@pytest.mark.parametrize("command,cls,only", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_no_config_option_is_written_by_hand_in_the_cli(command, cls, only):
    by_hand = _flags_written_by_hand(command)
    assert "--out" in by_hand  # the inputs and outputs are
    flags = {f.metadata.get("flag") or "--" + f.name.replace("_", "-") for f in _fields(cls, only)}
    assert not flags & by_hand


def test_the_leaf_module_imports_nothing_of_the_package_but_errors():
    tree = ast.parse((PACKAGE / "options.py").read_text())
    relative = {(n.level, n.module) for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.level}
    absolute = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert relative == {(1, "errors")}
    assert not any(m.startswith("prospect_emu") for m in absolute)


def test_library_calls_take_the_config_fields_as_keywords(tmp_path):
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.trainingdata.generate import generate

    assert GenerateConfig.build(5, None, {"seed": 3}) == GenerateConfig(n=5, seed=3)
    assert GenerateConfig.build(None, GenerateConfig(n=4, seed=2), {"workers": 1}) == \
        GenerateConfig(n=4, seed=2, workers=1)
    with pytest.raises(TypeError, match="bogus"):
        generate(tmp_path / "x.h5", 5, bogus=1)
    with pytest.raises(TypeError, match="bogus"):
        fit_catalog(tmp_path / "c.ecsv", tmp_path, tmp_path / "o", bogus=1)
    assert CatalogConfig.build(None, {"flux_unit": "nJy"}) == CatalogConfig(flux_unit="nJy")
