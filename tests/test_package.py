"""The package as a user meets it: a light import, the declared API, the command and its
version, the README's first lines."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("fsps", "tensorflow", "keras", "dask", "distributed", "jax", "torch")
#: every package with a declared API; the network's names import Keras (training only)
LIGHT_PACKAGES = ("prospect_emu", "prospect_emu.trainingdata", "prospect_emu.emulator",
                  "prospect_emu.prospector", "prospect_emu.analysis", "prospect_emu.cli")


def test_import_is_light():
    code = ("import sys, prospect_emu; heavy = [m for m in ('fsps', 'tensorflow', 'keras', 'dask', "
            "'distributed', 'jax', 'torch') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_declared_name_resolves_without_fsps_or_keras():
    # each package's __all__ loads lazily, and nothing in it needs FSPS, Keras or Dask
    code = (f"import importlib, sys\n"
            f"for pkg in {LIGHT_PACKAGES!r}:\n"
            f"    mod = importlib.import_module(pkg)\n"
            f"    for name in mod.__all__:\n"
            f"        getattr(mod, name)\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])\n")
    # without SPS_HOME, as on a user's machine without FSPS: with it set, Prospector's own
    # ``prospect.models`` imports fsps (through ``prospect.sources``) whenever it can
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"resolving __all__ imported {r.stdout.strip()}"


@pytest.mark.parametrize("package", LIGHT_PACKAGES + ("prospect_emu.network",))
def test_declared_api_is_consistent(package):
    if package == "prospect_emu.network":
        pytest.importorskip("keras")
    mod = importlib.import_module(package)
    names = mod.__all__
    assert len(set(names)) == len(names), "a name is declared twice"
    assert set(names) <= set(dir(mod)), "__dir__ misses declared names"
    for name in names:
        obj = getattr(mod, name)
        if isinstance(obj, type(sys)):  # a submodule, never a module from elsewhere
            assert obj.__name__ == f"{package}.{name}"
        elif name != "__version__":  # a name defined in this package, re-exported as is
            home = importlib.import_module(obj.__module__)
            assert home.__name__.startswith(package) and getattr(home, name) is obj
    with pytest.raises(AttributeError, match="no attribute"):
        mod.no_such_name  # noqa: B018


def test_front_doors_are_at_the_top():
    import prospect_emu

    for name in ("run_fit", "fit_catalog", "validate", "compare", "SpectralEmulator",
                 "EmulatedSPS", "lnprob_batch", "run_emcee", "run_nautilus", "emulate",
                 "use_emulator", "lnprobfn", "train", "generate", "Emulator"):
        assert name in prospect_emu.__all__
        assert callable(getattr(prospect_emu, name)), name


def test_version_is_written_once():
    import prospect_emu

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "prospect_emu.__version__"}
    r = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["prospect-emu", prospect_emu.__version__]


def test_command_lists_its_subcommands():
    r = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for sub in ("generate", "train", "info", "fit", "compare", "demo"):
        assert sub in r.stdout


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1: lines.index("```sh") + 3]
    assert block[0].startswith("pip install . && prospect-emu demo")
    assert "pytest" in block[1] and '".[test]"' in block[1]
    assert len(lines) <= 120, "the README holds the pitch and links; prose goes to docs/"


def test_training_without_keras_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['keras'] = None  # as where Keras is not installed\n"
            "from prospect_emu.emulator.training import train\n"
            "from prospect_emu.errors import ConfigurationError\n"
            "try:\n    train('x.h5', 'out')\nexcept ConfigurationError as e:\n    print('MSG', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "MSG training needs Keras 3" in r.stdout and "prospect-emu[train]" in r.stdout, r.stderr
