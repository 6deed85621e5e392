"""Two Sphinx directives for prospect-emu's API pages, so that the pages follow the code.

``.. declared-api:: prospect_emu.analysis`` is a table of every name in the package's
``__all__`` (resolved as ``from package import name`` would, so modules show as modules),
linked to where autodoc documents it, with the first paragraph of its docstring.

``.. package-modules:: prospect_emu.analysis`` documents every module of the package
(``automodule`` with members), one section each; ``:exclude: a, b`` leaves modules out.

A name added to an ``__all__``, or a module added to a package, appears with no edit here.

The docstrings write absolute values as ``|residual|``, which reStructuredText reads as a
substitution; :func:`escape_bars` escapes them (outside inline literals) as autodoc reads
each docstring, so the plain-text notation stays as it is in the code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.ext.autodoc.mock import mock
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

_BARS = re.compile(r"(?<![\\|])\|(\S(?:[^|\n]*?\S)?)\|(?!\|)")
_LITERAL = re.compile(r"(``.+?``)")


def escape_bars(line: str) -> str:
    """``|x|`` -> ``\\|x\\|`` outside inline literals (absolute values, not substitutions)."""
    parts = _LITERAL.split(line)
    return "".join(part if i % 2 else _BARS.sub(r"\\|\1\\|", part) for i, part in enumerate(parts))


def _escape_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = [escape_bars(line) for line in lines]


def _role_and_target(package: str, name: str, obj: object) -> tuple[str, str]:
    if isinstance(obj, types.ModuleType):
        return "mod", obj.__name__
    home = getattr(obj, "__module__", package)
    role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
    if role == "class" and issubclass(obj, BaseException):
        role = "exc"
    return role, f"{home}.{name}"


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.replace("|", "\\|")


class DeclaredAPI(SphinxDirective):
    """``.. declared-api:: PACKAGE``: a table of ``PACKAGE.__all__``."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        with mock(self.config.autodoc_mock_imports):  # as autodoc imports the modules
            mod = importlib.import_module(package)
            objects = [(name, getattr(mod, name)) for name in mod.__all__
                       if not name.startswith("__")]
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "",
                 "   * - name", "     - what it is"]
        for name, obj in objects:
            role, target = _role_and_target(package, name, obj)
            lines += [f"   * - :{role}:`{name} <{target}>`", f"     - {_summary(obj)}"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=f"declared-api {package}"),
                                self.content_offset, container)
        return container.children


class PackageModules(SphinxDirective):
    """``.. package-modules:: PACKAGE``: ``automodule`` of each of its modules."""

    required_arguments = 1
    option_spec = {"exclude": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        exclude = {s.strip() for s in self.options.get("exclude", "").split(",") if s.strip()}
        mod = importlib.import_module(package)
        lines: list[str] = []
        for info in sorted(pkgutil.iter_modules(mod.__path__), key=lambda i: i.name):
            if info.ispkg or info.name.startswith("_") or info.name in exclude:
                continue
            title = f"``{package}.{info.name}``"
            lines += [title, "-" * len(title), "", f".. automodule:: {package}.{info.name}", ""]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"package-modules {package}"),
                                 node)
        return node.children


def setup(app):
    app.add_directive("declared-api", DeclaredAPI)
    app.add_directive("package-modules", PackageModules)
    app.connect("autodoc-process-docstring", _escape_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
