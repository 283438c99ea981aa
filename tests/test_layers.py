"""The package's layers, read from the source with ``ast`` (nothing is imported).

The rules (``docs/design.md``, "Rules of the architecture", 1 and 2):

- the core, every module at the root of ``hsc_ref`` (private ones included), never imports
  ``hsc_ref.gan``, ``hsc_ref.style``, ``hsc_ref.golden``, ``hsc_ref.lab`` or a ``cli``
  module; only the top-level command line, ``hsc_ref.cli`` and ``hsc_ref.__main__``, composes
  the subcommands;
- the reference (the core, ``hsc_ref.gan``, ``hsc_ref.style``, ``hsc_ref.golden``) never
  imports the lab, ``hsc_ref.lab``; only the command-line shells (the ``cli`` modules, which
  nothing in the reference imports) reach into both wings;
- ``hsc_ref.gan`` and ``hsc_ref.style`` never import each other;
- no module imports a ``cli`` module except ``hsc_ref.cli`` and ``hsc_ref.__main__`` (so
  ``hsc_ref.golden`` may import the core and the gan and style libraries, never their CLIs);
- no import cycle among the modules of ``hsc_ref``.

Every import counts, wherever it stands: at module level, inside a function, under
``TYPE_CHECKING``, or as a constant string given to ``importlib.import_module``. An edge goes to
the most specific module an import names (``from hsc_ref import gan`` reaches
``hsc_ref.gan``; ``from hsc_ref import _io`` reaches ``hsc_ref._io``; ``from hsc_ref.spectral
import decompose`` reaches ``hsc_ref.spectral``). The parent packages that Python initialises on
the way are not edges: every module would otherwise reach ``hsc_ref/__init__.py``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest

PACKAGE = "hsc_ref"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE
APPLICATIONS = ("hsc_ref.gan", "hsc_ref.style", "hsc_ref.golden", "hsc_ref.lab")
LAB = "hsc_ref.lab"
REFERENCE_PACKAGES = (
    "hsc_ref",
    "hsc_ref.gan",
    "hsc_ref.style",
    "hsc_ref.golden",
    "hsc_ref.testing",
)
"""What a validator, a test or a reader imports: none of them may load the lab."""
COMPOSERS = frozenset({"hsc_ref.cli", "hsc_ref.__main__"})
"""The top-level command line: the only modules allowed to import the subcommands' CLIs."""

CORE_RULE = (
    "the core (modules at the root of hsc_ref) never imports hsc_ref.gan, hsc_ref.style, "
    "hsc_ref.golden, hsc_ref.lab or a cli module"
)
LAB_RULE = "the reference never imports hsc_ref.lab (only cli shells reach both wings)"
APPS_RULE = "hsc_ref.gan and hsc_ref.style never import each other"
CLI_RULE = "only hsc_ref.cli and hsc_ref.__main__ import a cli module"


class Source(NamedTuple):
    """One module's text and whether it is a package's ``__init__``."""

    text: str
    is_package: bool
    path: str


class Import(NamedTuple):
    """One import statement's target, resolved to a module name, and where it stands."""

    importer: str
    target: str
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


# --------------------------------------------------------------------------- reading the graph


def package_sources(root: Path = PACKAGE_DIR) -> dict[str, Source]:
    """Every ``.py`` file under ``root``, by module name."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        rel = str(path.relative_to(root.parent))
        sources[name] = Source(path.read_text(encoding="utf-8"), is_package, rel)
    return sources


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name of ``from <level dots><module> import ...`` inside ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _named_modules(node: ast.AST, importer: str, is_package: bool) -> Iterator[tuple[str, str]]:
    """``(module, name)`` pairs an import node names; ``name`` is ``""`` for plain imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, ""
    elif isinstance(node, ast.ImportFrom):
        module = _resolve(importer, is_package, node.module, node.level)
        for alias in node.names:
            yield module, alias.name
    elif isinstance(node, ast.Call) and _is_import_module_call(node):
        yield node.args[0].value, ""


def _is_import_module_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return (
        name in ("import_module", "__import__")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def module_imports(name: str, source: Source, known: set[str]) -> list[Import]:
    """The imports of ``hsc_ref`` modules in one module, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(source.text, filename=source.path)):
        for module, attr in _named_modules(node, name, source.is_package):
            target = f"{module}.{attr}" if f"{module}.{attr}" in known else module
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append(Import(name, target, node.lineno, source.path))
    return found


def import_graph(sources: Mapping[str, Source]) -> dict[str, list[Import]]:
    """``module -> its imports of package modules``, for every module in ``sources``."""
    known = set(sources)
    return {name: module_imports(name, src, known) for name, src in sources.items()}


# --------------------------------------------------------------------------- the rules


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_core(module: str) -> bool:
    return not any(_within(module, app) for app in APPLICATIONS)


def _is_cli(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "cli"


def broken_rules(imp: Import) -> list[str]:
    """The layer rules one import breaks (empty when it is allowed)."""
    broken = []
    composer = imp.importer in COMPOSERS
    reaches_app = any(_within(imp.target, app) for app in APPLICATIONS)
    if _is_core(imp.importer) and not composer and (reaches_app or _is_cli(imp.target)):
        broken.append(CORE_RULE)
    for a, b in (("hsc_ref.gan", "hsc_ref.style"), ("hsc_ref.style", "hsc_ref.gan")):
        if _within(imp.importer, a) and _within(imp.target, b):
            broken.append(APPS_RULE)
    if _within(imp.target, LAB) and not _within(imp.importer, LAB) and not _is_cli(imp.importer):
        broken.append(LAB_RULE)
    if _is_cli(imp.target) and not composer:
        broken.append(CLI_RULE)
    return broken


def layer_violations(graph: Mapping[str, list[Import]]) -> list[str]:
    """One line per offending import: where it is, what it imports, and each rule it breaks."""
    return [
        f"{imp}: breaks '{rule}'"
        for imports in graph.values()
        for imp in imports
        for rule in broken_rules(imp)
    ]


def import_cycles(graph: Mapping[str, list[Import]]) -> list[list[Import]]:
    """One cycle (as its chain of imports) per strongly connected group of modules.

    Tarjan's algorithm finds the groups of modules that reach each other; a breadth-first
    search inside each group gives a shortest cycle through its first module, so the message
    names the imports to cut.
    """
    return [_cycle_through(group, graph) for group in _strongly_connected(graph)]


def _strongly_connected(graph: Mapping[str, list[Import]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(v: str) -> None:  # recursion depth <= number of modules (~50)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in {imp.target for imp in graph.get(v, ()) if imp.target in graph}:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            self_loop = any(imp.target == v for imp in graph.get(v, ()))
            if len(group) > 1 or self_loop:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def _cycle_through(group: list[str], graph: Mapping[str, list[Import]]) -> list[Import]:
    start, members = group[0], set(group)
    came_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for imp in graph[v]:
                if imp.target == start:
                    chain = [imp]
                    while chain[0].importer != start:
                        chain.insert(0, came_by[chain[0].importer])
                    return chain
                if imp.target in members and imp.target not in came_by:
                    came_by[imp.target] = imp
                    nxt.append(imp.target)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in its strongly connected group {group}")


def _format_cycle(chain: list[Import]) -> str:
    names = " -> ".join([chain[0].importer] + [imp.target for imp in chain])
    return f"{names}\n" + "\n".join(f"    {imp}" for imp in chain)


# --------------------------------------------------------------------------- the package

SOURCES = package_sources()
GRAPH = import_graph(SOURCES)


def test_the_graph_covers_the_package_and_sees_function_level_imports():
    # A rule checked over an empty or partial graph passes for nothing: check what was read.
    assert len(SOURCES) == len(list(PACKAGE_DIR.rglob("*.py")))
    assert {"hsc_ref", "hsc_ref.spectral", "hsc_ref.gan", "hsc_ref.golden.check"} <= set(GRAPH)
    edges = {(imp.importer, imp.target) for imports in GRAPH.values() for imp in imports}
    assert ("hsc_ref.cli", "hsc_ref.gan.cli") in edges  # from hsc_ref.gan import cli as ...
    assert ("hsc_ref.spectral", "hsc_ref._validation") in edges  # from hsc_ref import _validation
    in_functions = {
        (name, node.lineno)
        for name, src in SOURCES.items()
        for func in ast.walk(ast.parse(src.text))
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(func)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE)
    }
    assert in_functions  # the package has lazy imports (optional extras, light imports) ...
    seen = {(imp.importer, imp.line) for imports in GRAPH.values() for imp in imports}
    assert in_functions <= seen  # ... and the graph has every one of them


def test_the_package_obeys_its_layers():
    violations = layer_violations(GRAPH)
    assert not violations, "layer rules broken:\n" + "\n".join(violations)


def test_the_lab_is_a_wing_of_its_own_with_modules_in_it():
    # The lab rule passes for nothing if the lab is empty: check what it holds.
    lab = {name for name in SOURCES if _within(name, LAB)}
    assert {"hsc_ref.lab._checkpoint", "hsc_ref.lab._outputs", "hsc_ref.lab.sweep"} <= lab
    edges = {(imp.importer, imp.target) for imports in GRAPH.values() for imp in imports}
    assert ("hsc_ref.gan.cli", "hsc_ref.lab._outputs") in edges  # a shell reaches the lab


def test_importing_the_reference_leaves_the_lab_unloaded():
    # The dynamic side of the lab rule: what Python actually loads, in a fresh interpreter.
    code = (
        "import importlib, sys\n"
        f"for name in {REFERENCE_PACKAGES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m == {LAB!r} or m.startswith({LAB + '.'!r})))\n"
    )
    root = str(PACKAGE_DIR.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, check=True
    )
    assert out.stdout.strip() == "[]", f"importing the reference loaded the lab: {out.stdout}"


def test_the_package_has_no_import_cycle():
    cycles = import_cycles(GRAPH)
    assert not cycles, "import cycles (cut one import of each):\n" + "\n".join(
        _format_cycle(c) for c in cycles
    )


# --------------------------------------------------------------------------- the checker itself


def _graph(modules: Mapping[str, str]) -> dict[str, list[Import]]:
    """A graph from in-memory modules; a name ending in ``.__init__`` is a package."""
    sources = {}
    for name, text in modules.items():
        is_package = name.endswith(".__init__")
        module = name.removesuffix(".__init__")
        sources[module] = Source(text, is_package, name.replace(".", "/") + ".py")
    return import_graph(sources)


_BASE = {
    "hsc_ref.__init__": "",
    "hsc_ref.spectral": "",
    "hsc_ref.cli": "",
    "hsc_ref.gan.__init__": "",
    "hsc_ref.gan.cli": "",
    "hsc_ref.gan.train": "",
    "hsc_ref.style.__init__": "",
    "hsc_ref.style.loss": "",
    "hsc_ref.golden.__init__": "",
    "hsc_ref.golden.cases": "",
    "hsc_ref.lab.__init__": "",
    "hsc_ref.lab._checkpoint": "",
    "hsc_ref.lab._outputs": "",
    "hsc_ref.lab._threads": "",
    "hsc_ref.lab._gan_run": "",
    "hsc_ref.lab.sweep.__init__": "",
    "hsc_ref.lab.sweep._engine": "",
}


@pytest.mark.parametrize(
    ("module", "text", "line", "target", "rule"),
    [
        ("hsc_ref.spectral", "from hsc_ref import gan", 1, "hsc_ref.gan", CORE_RULE),
        ("hsc_ref.spectral", "def f():\n    import hsc_ref.golden", 2, "hsc_ref.golden", CORE_RULE),
        ("hsc_ref.spectral", "from .style.loss import gram", 1, "hsc_ref.style.loss", CORE_RULE),
        ("hsc_ref.__init__", "from . import golden", 1, "hsc_ref.golden", CORE_RULE),
        ("hsc_ref.spectral", "import importlib\nimportlib.import_module('hsc_ref.gan.train')",
         2, "hsc_ref.gan.train", CORE_RULE),
        ("hsc_ref.spectral", "from hsc_ref import cli", 1, "hsc_ref.cli", CLI_RULE),
        ("hsc_ref.gan.train", "from hsc_ref.style import loss", 1, "hsc_ref.style.loss", APPS_RULE),
        ("hsc_ref.style.loss", "from ..gan.train import train", 1, "hsc_ref.gan.train", APPS_RULE),
        ("hsc_ref.golden.cases", "from hsc_ref.gan import cli", 1, "hsc_ref.gan.cli", CLI_RULE),
        ("hsc_ref.gan.train", "from . import cli", 1, "hsc_ref.gan.cli", CLI_RULE),
        ("hsc_ref.gan.train", "from hsc_ref.lab import _checkpoint", 1, "hsc_ref.lab._checkpoint",
         LAB_RULE),
        ("hsc_ref.style.loss", "def f():\n    import hsc_ref.lab.sweep", 2, "hsc_ref.lab.sweep",
         LAB_RULE),
        ("hsc_ref.golden.cases", "from ..lab import _outputs", 1, "hsc_ref.lab._outputs",
         LAB_RULE),
        ("hsc_ref.spectral", "from hsc_ref.lab import _threads", 1, "hsc_ref.lab._threads",
         LAB_RULE),
        ("hsc_ref.spectral", "from hsc_ref.lab import _threads", 1, "hsc_ref.lab._threads",
         CORE_RULE),
    ],
)  # fmt: skip
def test_each_rule_reports_the_offending_import_and_the_rule(module, text, line, target, rule):
    path = module.replace(".", "/") + ".py"
    expected = f"{path}:{line} imports {target}: breaks '{rule}'"
    assert expected in layer_violations(_graph({**_BASE, module: text}))


@pytest.mark.parametrize(
    ("module", "text"),
    [
        ("hsc_ref.cli", "from hsc_ref.gan import cli as gan_cli"),  # the composer
        ("hsc_ref.__main__", "from hsc_ref.cli import main"),  # the composer
        ("hsc_ref.golden.cases", "from hsc_ref import gan, spectral"),  # a library, the core
        ("hsc_ref.gan.cli", "from hsc_ref.gan.train import train"),
        ("hsc_ref.spectral", "import numpy\nfrom hsc_ref import _validation"),
        ("hsc_ref.gan.cli", "from hsc_ref.lab import _outputs, _gan_run"),  # a shell: both wings
        (
            "hsc_ref.lab._gan_run",
            "from hsc_ref.gan.train import train",
        ),  # the lab uses the reference
        ("hsc_ref.lab.sweep._engine", "from hsc_ref.lab import _threads"),
    ],
)
def test_allowed_imports_are_not_reported(module, text):
    assert layer_violations(_graph({**_BASE, module: text})) == []


def test_a_cycle_through_a_function_level_import_is_reported_as_its_chain():
    graph = _graph(
        {
            "hsc_ref.testing": "from hsc_ref import _validation\n"
            "def f():\n    from hsc_ref import golden\n",
            "hsc_ref._validation": "",
            "hsc_ref.golden.__init__": "from hsc_ref.golden.check import check",
            "hsc_ref.golden.check": "from hsc_ref.testing import compare_arrays",
        }
    )
    (chain,) = import_cycles(graph)
    assert [str(imp) for imp in chain] == [
        "hsc_ref/golden/__init__.py:1 imports hsc_ref.golden.check",
        "hsc_ref/golden/check.py:1 imports hsc_ref.testing",
        "hsc_ref/testing.py:3 imports hsc_ref.golden",
    ]
    assert _format_cycle(chain).startswith(
        "hsc_ref.golden -> hsc_ref.golden.check -> hsc_ref.testing -> hsc_ref.golden\n"
    )


def test_acyclic_graphs_and_self_imports():
    acyclic = _graph({"hsc_ref.a": "from hsc_ref import b", "hsc_ref.b": "", "hsc_ref.c": ""})
    assert import_cycles(acyclic) == []
    (chain,) = import_cycles(_graph({"hsc_ref.a": "import hsc_ref.a"}))
    assert [imp.target for imp in chain] == ["hsc_ref.a"]
