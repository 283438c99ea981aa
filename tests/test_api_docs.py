"""Documentation coverage: ``__all__`` everywhere, every public name in docs/api.md, numpydoc
docstrings on public functions and classes, and a cheap ``import hsc_ref``."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import hsc_ref

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _public_module_names() -> list[str]:
    names = ["hsc_ref"]
    for info in pkgutil.walk_packages(hsc_ref.__path__, prefix="hsc_ref."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


MODULES = _public_module_names()


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # an optional extra imported at module level
        pytest.fail(f"{name} must import without optional extras (import them lazily): {exc}")


def _documented_name(module: str, name: str) -> str:
    return f"`{module}.{name}`"


def test_package_has_the_core_modules():
    core = {
        "spectral",
        "corrections",
        "steps",
        "rules",
        "derivatives",
        "layout",
        "models",
        "testing",
    }
    assert {f"hsc_ref.{m}" for m in core} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_public_module_has_all_and_a_subpackage_only_reexports(module_name):
    module = _import(module_name)
    assert hasattr(module, "__all__"), f"{module_name} must define __all__"
    assert len(set(module.__all__)) == len(module.__all__), f"{module_name}.__all__ repeats names"
    missing_attr = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing_attr, f"{module_name}.__all__ names undefined attributes {missing_attr}"
    if module_name != "hsc_ref" and hasattr(module, "__path__"):  # a subpackage re-exports
        _assert_reexports_only(module)


def _assert_reexports_only(package: ModuleType) -> None:
    """A subpackage's ``__all__`` holds only names defined in its submodules (or the layout)."""
    defined_here = [
        name
        for name in package.__all__
        if getattr(getattr(package, name), "__module__", None) == package.__name__
    ]
    assert not defined_here, f"{package.__name__} defines, not re-exports: {defined_here}"
    homes = set()
    for info in pkgutil.iter_modules(package.__path__, prefix=package.__name__ + "."):
        homes.update(n for n in vars(_import(info.name)) if not n.startswith("__"))
    strays = [n for n in package.__all__ if n not in homes]
    assert not strays, f"{package.__name__} re-exports names none of its submodules has: {strays}"


MAX_PUBLIC_NAMES = 150
"""The budget of distinct public names across the public modules' ``__all__`` lists."""


def test_the_public_surface_stays_within_its_budget():
    distinct = {name for module in MODULES for name in _import(module).__all__}
    assert len(distinct) <= MAX_PUBLIC_NAMES, (
        f"{len(distinct)} distinct public names (budget {MAX_PUBLIC_NAMES}): make what only "
        "tests or commands use private, or leave it out of __all__"
    )


def _build_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_api", API_MD.with_name("build_api.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_md_is_the_page_rendered_from_the_docstrings():
    build_api = _build_api()
    assert build_api.public_modules() == MODULES
    assert API_MD.read_text(encoding="utf-8") == build_api.render(), (
        "docs/api.md is stale: run python docs/build_api.py --write"
    )


def test_api_md_lists_every_public_name_with_its_docstring_summary():
    build_api = _build_api()
    text = API_MD.read_text(encoding="utf-8")
    for module_name in MODULES:
        assert f"## {module_name}\n" in text
        for name in _import(module_name).__all__:
            line = (
                f"- {_documented_name(module_name, name)}: {build_api.summary(module_name, name)}"
            )
            assert line in text, f"docs/api.md lacks {line!r}"


def test_a_public_constant_without_a_docstring_is_refused(monkeypatch):
    build_api = _build_api()
    monkeypatch.setattr(hsc_ref.spectral, "UNDOCUMENTED", (1, 2), raising=False)
    monkeypatch.setattr(hsc_ref.spectral, "__all__", [*hsc_ref.spectral.__all__, "UNDOCUMENTED"])
    with pytest.raises(LookupError, match=r"hsc_ref\.spectral\.UNDOCUMENTED is public but has no"):
        build_api.render()


_SECTION = r"^{}\n-{{3,}}\s*$"


def _has_section(doc: str, title: str) -> bool:
    return re.search(_SECTION.format(title), doc, flags=re.MULTILINE) is not None


def _fields(obj: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(obj):
        return tuple(f.name for f in dataclasses.fields(obj))
    return tuple(getattr(obj, "_fields", ()))


def docstring_problem(obj: object) -> str | None:
    """Why ``obj``'s docstring falls short of the rule, or None.

    The rule (numpydoc): a function documents an ``Examples`` section, or both ``Parameters``
    and ``Returns``. A class documents ``Attributes``, ``Parameters`` or ``Examples``; a
    NamedTuple or dataclass may instead name each of its fields in its docstring; an
    exception class needs only a docstring (it says when it is raised).
    """
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return "no docstring"
    if _has_section(doc, "Examples"):
        return None
    if inspect.isclass(obj):
        return _class_problem(obj, doc)
    if _has_section(doc, "Parameters") and _has_section(doc, "Returns"):
        return None
    return "no Examples section, nor Parameters and Returns"


def _class_problem(cls: type, doc: str) -> str | None:
    if issubclass(cls, BaseException):
        return None
    if any(_has_section(doc, s) for s in ("Attributes", "Parameters")):
        return None
    fields = _fields(cls)
    unnamed = [f for f in fields if not re.search(rf"\b{re.escape(f)}\b", doc)]
    if fields and not unnamed:
        return None
    return f"no Attributes/Parameters/Examples section; fields not named: {unnamed or '-'}"


def _checked_objects(module: ModuleType) -> list[tuple[str, object]]:
    """Functions and classes in ``__all__`` defined here or in a private module."""
    out = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        home = getattr(obj, "__module__", "") or ""
        if home == module.__name__ or home.split(".")[-1].startswith("_"):
            out.append((name, obj))
    return out


@pytest.mark.parametrize("module_name", MODULES)
def test_public_functions_and_classes_have_numpydoc_docstrings(module_name):
    module = _import(module_name)
    problems = {
        name: problem
        for name, obj in _checked_objects(module)
        if (problem := docstring_problem(obj)) is not None
    }
    assert not problems, f"{module_name}: docstrings short of the numpydoc rule: {problems}"


def test_docstring_rule_is_not_vacuous():
    def bare():
        """Do something."""

    def documented():
        """Do something.

        Parameters
        ----------
        x : int

        Returns
        -------
        int
        """

    assert docstring_problem(bare) is not None
    assert docstring_problem(documented) is None
    assert docstring_problem(type("Plain", (), {"__doc__": "A thing."})) is not None


HEAVY = ("matplotlib", "tqdm", "PIL", "torch", "jax", "cupy")


@pytest.mark.parametrize("module_name", ["hsc_ref", "hsc_ref.cli"])
def test_import_does_not_load_optional_heavy_packages(module_name):
    code = (
        f"import sys, {module_name}\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"import {module_name} loaded {done.stdout.strip()}"
