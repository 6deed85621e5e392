"""Let Prospector 1.4.1's ``SpecModel`` be built where ``SPS_HOME`` is unset.

``SpecModel.__init__`` calls ``init_eline_info``, which reads
``$SPS_HOME/data/emlines_info.dat`` and fails with a ``TypeError`` (``os.path.join``
of None) when ``SPS_HOME`` is unset: an unmodified ``build_model`` then fails on a
machine without FSPS, although an emulated fit needs no FSPS.  :func:`install`
replaces ``SpecModel.init_eline_info`` by a version that, *only while SPS_HOME is
unset*, leaves the emission-line table empty (as Prospector itself does when the file
cannot be read: ``emline_info`` holds the error); with SPS_HOME set it calls
Prospector's own method, so FSPS fits are unchanged.

``import prospect_emu`` calls :func:`install`.  The package import stays cheap: when
Prospector's ``prospect.models.sedmodel`` is not imported yet, an import hook patches
it the moment it is first imported (and then removes itself).  Calling :func:`install`
again does nothing.
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


def install() -> None:
    """Patch ``SpecModel.init_eline_info`` now, or when Prospector is first imported
    (idempotent; see the module notes)."""
    module = sys.modules.get(_TARGET)
    if module is not None:
        _patch(module)
    elif not any(isinstance(f, _Hook) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
