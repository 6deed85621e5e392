"""Let Prospector 1.4.1's ``SpecModel`` be built where ``SPS_HOME`` is unset.

``SpecModel.__init__`` calls ``init_eline_info``, which reads
``$SPS_HOME/data/emlines_info.dat`` and fails with a ``TypeError`` (``os.path.join``
of None) when ``SPS_HOME`` is unset: an unmodified ``build_model`` then fails on a
machine without FSPS, although an emulated fit needs no FSPS.  :func:`patch_prospector`
replaces ``SpecModel.init_eline_info`` by a version that, *only while SPS_HOME is
unset*, leaves the emission-line table empty (as Prospector itself does when the file
cannot be read: ``emline_info`` holds the error); with SPS_HOME set it calls
Prospector's own method, so FSPS fits are unchanged.

Importing ``prospect_emu`` changes nothing in Prospector.  The patch is installed
explicitly, by the package's entry points that build a user's model: loading a parameter
file (:func:`prospect_emu.paramfile.load_param_file`, so every ``prospect-emu`` command),
the one-flag switch (:func:`~prospect_emu.prospector.switch.add_emulator_arguments`,
:func:`~prospect_emu.prospector.switch.emulator_sps`,
:func:`~prospect_emu.prospector.switch.use_emulator`), constructing an
:class:`~prospect_emu.prospector.model.EmulatedSpecModel` (so :func:`~prospect_emu.emulate`),
the fit-catalog workers and the model rebuilt by ``results_from``.  A script that builds
its model itself without SPS_HOME before any of those calls
``prospect_emu.patch_prospector()`` first::

    import prospect_emu
    prospect_emu.patch_prospector()        # SpecModel buildable without SPS_HOME
    model = build_model(**run_params)      # the parameter file's own function
    twin = prospect_emu.emulate(model, "my_emulator")

When Prospector's ``prospect.models.sedmodel`` is not imported yet, an import hook patches
it the moment it is first imported (and then removes itself).  Calling
:func:`patch_prospector` again does nothing; :func:`installed` says whether it is in place.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType

_TARGET = "prospect.models.sedmodel"


def _patch(module: ModuleType) -> None:
    spec_model = getattr(module, "SpecModel", None)
    if spec_model is None or getattr(spec_model.init_eline_info, "_prospect_emu", False):
        return
    original = spec_model.init_eline_info

    def init_eline_info(self, eline_file="emlines_info.dat"):
        if not os.getenv("SPS_HOME"):
            self.emline_info = OSError("SPS_HOME is unset: no emission-line table "
                                       "(a model for an emulated fit; see prospect_emu.sps_home_patch)")
            return None
        return original(self, eline_file)

    init_eline_info._prospect_emu = True
    init_eline_info.__doc__ = original.__doc__
    spec_model.init_eline_info = init_eline_info


def installed() -> bool:
    """Whether Prospector's ``SpecModel`` is patched now."""
    module = sys.modules.get(_TARGET)
    return module is not None and getattr(module.SpecModel.init_eline_info, "_prospect_emu", False)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch(module)


class _Hook(importlib.abc.MetaPathFinder):
    """Patches ``prospect.models.sedmodel`` when it is imported, then leaves."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        _remove_hook()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Hook)]


def patch_prospector() -> None:
    """Make Prospector's ``SpecModel`` constructible with ``SPS_HOME`` unset.

    Patches ``SpecModel.init_eline_info`` now, or when Prospector is first imported: with
    SPS_HOME unset the emission-line table is left empty (a model for an emulated fit);
    with SPS_HOME set Prospector's own method runs.  Idempotent.  The package's entry
    points call it (see :mod:`prospect_emu.sps_home_patch`); call it yourself before
    building a ``SpecModel`` without SPS_HOME outside them.
    """
    module = sys.modules.get(_TARGET)
    if module is not None:
        _patch(module)
    elif not any(isinstance(f, _Hook) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook())


#: the former name of :func:`patch_prospector`
install = patch_prospector
