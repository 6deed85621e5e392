"""The package as a user meets it: a light import, the command, the README's first lines."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = ("import sys, prospect_emu; heavy = [m for m in ('fsps', 'tensorflow', 'keras', 'dask', "
            "'distributed', 'jax', 'torch') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


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


def test_training_without_keras_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['keras'] = None  # as where Keras is not installed\n"
            "from prospect_emu.emulator.training import train\n"
            "from prospect_emu.errors import ConfigurationError\n"
            "try:\n    train('x.h5', 'out')\nexcept ConfigurationError as e:\n    print('MSG', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "MSG training needs Keras 3" in r.stdout and "prospect-emu[train]" in r.stdout, r.stderr
