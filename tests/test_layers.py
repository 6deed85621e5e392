"""The package's layering: a lower layer never imports a higher one (README, "Package layout").

Checked on the source itself (every ``import``/``from ... import`` in every module, including
those inside functions), so a new upward import fails here, not in review.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "prospect_emu"

#: layer of each top-level entry of the package: shared helpers 0, then bottom to top
LAYER = {"trainingdata": 1, "network": 2, "emulator": 3, "prospector": 4, "analysis": 5,
         "amortized": 5,
         "cli": 6, "demo": 6}
SHARED = {"errors", "provenance", "normalization", "filters", "paramfile", "sps_environment",
          "engines", "cosmology", "hdf5_files", "dependencies", "sps_home_patch", "options",
          "__init__"}


def _entry_of(module: str) -> str:
    """``prospect_emu.X.Y`` -> ``X``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(entry: str) -> int:
    if entry in SHARED:
        return 0
    if entry not in LAYER:
        raise AssertionError(f"prospect_emu.{entry} is in no layer: add it to LAYER or SHARED "
                             "in tests/test_layers.py and to the README's package layout")
    return LAYER[entry]


def _is_module(dotted: str) -> bool:
    p = PKG.parent.joinpath(*dotted.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for each prospect_emu import in ``path``; ``from P import m``
    of a submodule ``m`` of package ``P`` gives ``P.m``."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1]  # the package a relative import starts from
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x, y: modules, or names of the package
                    out += [(node.lineno, f"{mod}.{a.name}" if _is_module(f"{mod}.{a.name}")
                             else mod) for a in node.names]
                    continue
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "prospect_emu":
                subs = [f"{mod}.{a.name}" for a in node.names if _is_module(f"{mod}.{a.name}")]
                out += [(node.lineno, m) for m in subs or [mod]]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names
                    if a.name.split(".")[0] == "prospect_emu"]
    return out


MODULES = sorted(p for p in PKG.rglob("*.py") if "data" not in p.relative_to(PKG).parts)


def test_every_module_is_in_a_layer():
    for path in MODULES:
        _layer(path.relative_to(PKG).parts[0].removesuffix(".py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_upward_import(path):
    entry = path.relative_to(PKG).parts[0].removesuffix(".py")
    if entry == "__init__":
        return  # the package's lazy re-exports
    own = _layer(entry)
    upward = [(line, mod) for line, mod in _imports(path) if _layer(_entry_of(mod)) > own]
    assert not upward, (f"{path.relative_to(PKG)} (layer {own}) imports higher layers: "
                        + ", ".join(f"{mod} (line {line})" for line, mod in upward))


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    # the parser must resolve relative imports inside functions, or the test above is blind
    found = dict((mod, line) for line, mod in _imports(PKG / "prospector" / "model.py"))
    assert "prospect_emu.emulator.artifact" in found
    found_spectral = [mod for _, mod in _imports(PKG / "prospector" / "model_spectral.py")]
    assert "prospect_emu.prospector.sps" in found_spectral  # imported inside a method
    found = [mod for _, mod in _imports(PKG / "prospector" / "plans.py")]
    assert "prospect_emu.cosmology" in found  # from .. import cosmology


def test_inference_and_fitting_never_import_keras_or_fsps():
    # the emulated path (artifact, fast path, model, likelihood, samplers, fits, catalogs)
    # must run with neither Keras nor fsps importable
    import subprocess
    import sys

    code = ("import sys\n"
            "for m in ('keras', 'tensorflow', 'fsps'):\n"
            "    sys.modules[m] = None  # as where they are not installed\n"
            "import prospect_emu.emulator.artifact, prospect_emu.emulator.spectral\n"
            "import prospect_emu.emulator.photometric, prospect_emu.emulator.kinds\n"
            "import prospect_emu.emulator.training_base, prospect_emu.emulator.training\n"
            "import prospect_emu.emulator.fastpath, prospect_emu.prospector.model\n"
            "import prospect_emu.prospector.likelihood, prospect_emu.prospector.batched\n"
            "import prospect_emu.prospector.samplers, prospect_emu.prospector.sps\n"
            "import prospect_emu.prospector.fitting, prospect_emu.analysis.catalog\n"
            "import prospect_emu.analysis.compare, prospect_emu.analysis.validate\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any depth: lazy imports count)."""
    graph = {_module_name(p): {m for _, m in _imports(p)} for p in MODULES}
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = {stack.pop()}
            while v not in comp:
                comp.add(stack.pop())
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


#: import cycles allowed: none (the sampler layer removed the last one)
KNOWN_CYCLES: set[frozenset[str]] = set()


def test_no_import_cycles():
    new = [sorted(c) for c in _cycles(_import_graph()) if c not in KNOWN_CYCLES]
    assert not new, f"import cycles (lazy imports count): {new}"


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [frozenset("abc")]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    # the two cycles of issue 22 item 6, as they were, are found in the real graph's form
    old = {"prospect_emu.emulator.artifact": {"prospect_emu.emulator.spectral"},
           "prospect_emu.emulator.spectral": {"prospect_emu.emulator.artifact"}}
    assert _cycles(old) == [frozenset(old)]


def test_the_kind_registry_is_a_leaf():
    # the registry names the kinds' modules by import path only, so that every kind's module
    # can import the base and the registry without a cycle
    found = {m for _, m in _imports(PKG / "emulator" / "kinds.py")}
    assert found <= {"prospect_emu.errors"}, found
    found = {m for _, m in _imports(PKG / "emulator" / "kind_interface.py")}
    assert found <= {"prospect_emu.errors"}, found
