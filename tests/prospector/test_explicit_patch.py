"""Prospector's ``SpecModel`` patch (:mod:`prospect_emu.sps_home_patch`) is installed
explicitly, by the entry points that build a user's model, never by importing the package.

Each case runs in a fresh interpreter (the patch is process-wide), with SPS_HOME removed
from the environment where it says so, and builds Prospector's own ``SpecModel`` from
Prospector's own template: the reference is Prospector's behaviour, not the package's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
PARAMS = DATA / "delayed_tau_params.py"


def _run(code: str, sps_home: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME" or sps_home}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)


ORIGINAL = ("import prospect.models.sedmodel as sm\n"
            "f = sm.SpecModel.init_eline_info\n"
            "print('PATCHED' if getattr(f, '_prospect_emu', False) else 'ORIGINAL', "
            "f.__module__)\n")


def test_importing_the_package_leaves_prospector_untouched():
    # in both import orders, and after touching the adapter's module and names
    for head in ("import prospect_emu\n",
                 "import prospect.models\nimport prospect_emu\n",
                 "import prospect_emu, prospect_emu.prospector.model, prospect_emu.prospector.switch\n"
                 "from prospect_emu import emulate, EmulatedSpecModel, lnprobfn\n"):
        r = _run(head + "import prospect_emu.sps_home_patch as p\n"
                 "assert not p.installed()\n" + ORIGINAL)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "ORIGINAL prospect.models.sedmodel" in r.stdout, (head, r.stdout)


def test_without_the_patch_prospector_itself_fails_without_sps_home():
    # what the patch is for: Prospector 1.4.1's SpecModel cannot be built without SPS_HOME
    r = _run("import prospect_emu\n"
             "from prospect.models import SpecModel\n"
             "from prospect.models.templates import TemplateLibrary\n"
             "SpecModel(TemplateLibrary['parametric_sfh'])\n")
    assert r.returncode != 0 and "TypeError" in r.stderr


def test_patch_prospector_lets_a_user_built_model_build_without_sps_home():
    for order in ("import prospect_emu\nprospect_emu.patch_prospector()\nimport prospect.models\n",
                  "import prospect.models\nimport prospect_emu\nprospect_emu.patch_prospector()\n"
                  "prospect_emu.patch_prospector()\n"):
        r = _run(order +
                 "from prospect.models import SpecModel\n"
                 "from prospect.models.templates import TemplateLibrary\n"
                 "m = SpecModel(TemplateLibrary['parametric_sfh'])\n"
                 "print('BUILT', type(m.emline_info).__name__, m.theta_labels())\n")
        assert r.returncode == 0, r.stderr[-2000:]
        assert "BUILT OSError" in r.stdout and "'mass'" in r.stdout


def test_with_sps_home_the_patched_method_is_prospectors(sps_home):
    r = _run("import prospect_emu\nprospect_emu.patch_prospector()\n"
             "from prospect.models import SpecModel\n"
             "from prospect.models.templates import TemplateLibrary\n"
             "m = SpecModel(TemplateLibrary['parametric_sfh'])\n"
             "print('LINES', len(m.emline_info))\n", sps_home=True)
    assert r.returncode == 0, r.stderr[-2000:]
    n = int(r.stdout.split("LINES")[1].split()[0])
    assert n > 100  # FSPS's emission-line table, read by Prospector's own method


def test_the_switch_runs_without_sps_home():
    # a classic __main__ with the three switch lines: add_emulator_arguments comes before
    # build_model, and installs the patch
    code = f"""
import sys
sys.modules['fsps'] = None  # as on a machine without python-fsps
sys.path.insert(0, {str(DATA)!r})
import numpy as np
from prospect import prospect_args
from prospect_emu import add_emulator_arguments, emulator_sps, use_emulator
from prospect_emu.demo import DEMO_EMULATOR
import delayed_tau_params as pf
parser = prospect_args.get_parser()
add_emulator_arguments(parser)                                        # 1
run_params = vars(parser.parse_args(['--emulator', str(DEMO_EMULATOR)]))
obs = pf.build_obs(**run_params)
model = pf.build_model(**run_params)
sps = emulator_sps(run_params) or pf.build_sps(**run_params)          # 2
model, lnprobfn = use_emulator(model, run_params)                     # 3
lnp = lnprobfn(model.theta, model=model, obs=obs, sps=sps)
print('SWITCH', type(model).__name__, np.isfinite(lnp))
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "SWITCH EmulatedSpecModel True" in r.stdout


def test_load_param_file_and_emulate_install_it_without_sps_home():
    code = f"""
import prospect_emu.sps_home_patch as p
from prospect_emu.paramfile import load_param_file
assert not p.installed()
pf = load_param_file({str(PARAMS)!r})
m = pf.build_model()
print('LOADED', type(m).__name__, type(m.emline_info).__name__, p.installed())
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "LOADED SpecModel OSError True" in r.stdout
    code = """
import prospect_emu, prospect_emu.sps_home_patch as p
from prospect.models.templates import TemplateLibrary
from prospect_emu.demo import DEMO_EMULATOR
assert not p.installed()
params = TemplateLibrary['parametric_sfh']
params['mass']['prior'].params.update(mini=1e8, maxi=1e12)
twin = prospect_emu.EmulatedSpecModel(params, emulator=DEMO_EMULATOR, emulator_error='none')
print('TWIN', p.installed())
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "TWIN True" in r.stdout
