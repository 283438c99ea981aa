"""The documentation works as written: README.md and every page in docs/.

- Every ``python`` snippet runs: a page's snippets run in order, in one namespace per page, in a
  temporary working directory. A snippet right after the line ``<!-- no-run -->`` is not run
  (keep that for snippets that would take minutes). A snippet that imports an optional extra
  (torch, matplotlib, Pillow, tqdm, ...) skips the rest of its page when the extra is missing.
- Every relative link resolves to a file inside the repository, and an anchor (``page.md#x``)
  to a heading of that page; ``docs/index.md`` links every page of ``docs/``.
- Every ``hsc-ref`` command line in a shell block parses with the real argument parser.
- Every ``hsc_ref.<module>[.<name>]`` in inline code exists, every repository path in inline
  code (``tests/...``, ``examples/...``) exists, and every test named in the docs is defined
  in ``tests/``.
- No page cites the design notes that are not part of the repository.
"""

from __future__ import annotations

import ast
import importlib
import linecache
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
INDEX = ROOT / "docs" / "index.md"
NO_RUN = "<!-- no-run -->"
OPTIONAL_MODULES = {
    "torch": "crosscheck",
    "matplotlib": "plot",
    "PIL": "image",
    "tqdm": "progress",
    "cupy": "gpu",
    "jax": "jax (not an extra)",
}
"""Modules a snippet may need that ``pip install -e .`` does not bring, with their extra."""
SHELL_LANGUAGES = ("bash", "sh", "shell", "console", "")
REPO_DIRS = ("tests", "examples", "hsc_ref", "benchmarks", "docs")
EXTERNAL_DESIGN = re.compile(r"DESIGN\s*(section|fact|§|\d)|DESIGN\.md|\.\./shared|shared/origin")


class Block(NamedTuple):
    """A fenced code block of a page."""

    page: Path
    language: str
    line: int  # line number of the block's first code line (1-based)
    code: str
    run: bool  # False when the block follows ``<!-- no-run -->``


def rel(path: Path) -> str:
    """The path relative to the repository root, for messages and test ids."""
    return path.relative_to(ROOT).as_posix()


def fenced_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    blocks, lines = [], page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = re.match(r"^```(\w*)", lines[index])
        if not opening:
            index += 1
            continue
        end = next(j for j in range(index + 1, len(lines)) if lines[j].startswith("```"))
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(page, opening[1], index + 2, code, previous.strip() != NO_RUN))
        index = end + 1
    return blocks


def prose(page: Path) -> str:
    """The page's text without its fenced code blocks (lines kept, so offsets stay close)."""
    return re.sub(
        r"^```.*?^```", lambda m: "\n" * m[0].count("\n"), page.read_text(encoding="utf-8"),
        flags=re.MULTILINE | re.DOTALL,
    )  # fmt: skip


def inline_code(page: Path) -> list[str]:
    """The contents of the page's inline code spans."""
    return re.findall(r"`([^`\n]+)`", prose(page))


# --------------------------------------------------------------------------- snippets run


def python_blocks(page: Path) -> list[Block]:
    return [block for block in fenced_blocks(page) if block.language == "python"]


def optional_imports(code: str) -> list[str]:
    """The optional top-level modules a snippet imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return sorted(names & OPTIONAL_MODULES.keys())


def run_block(block: Block, namespace: dict) -> None:
    """Execute a snippet so that a traceback names the page and its line."""
    filename = f"{rel(block.page)} (python snippet)"
    source = "\n" * (block.line - 1) + block.code
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


PAGES_WITH_SNIPPETS = [page for page in PAGES if python_blocks(page)]


@pytest.mark.parametrize("page", PAGES_WITH_SNIPPETS, ids=rel)
def test_python_snippets_run(page: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "docs_snippets"}
    for block in python_blocks(page):
        if not block.run:
            continue
        for module in optional_imports(block.code):
            pytest.importorskip(
                module,
                reason=f"{rel(page)}, snippet at line {block.line}, needs the extra "
                f"{OPTIONAL_MODULES[module]}; the page's later snippets are skipped too",
            )
        run_block(block, namespace)


def test_no_run_marker_is_used_sparingly() -> None:
    """``<!-- no-run -->`` is for snippets that would take minutes, not a way around failures."""
    skipped = [f"{rel(b.page)}:{b.line}" for p in PAGES for b in python_blocks(p) if not b.run]
    assert len(skipped) <= 3, f"too many snippets marked {NO_RUN}: {skipped}"


def test_a_failing_snippet_fails_with_its_page_and_line(tmp_path: Path) -> None:
    page = ROOT / "docs" / "index.md"  # any page; only its name is used in the traceback
    block = Block(page, "python", 7, "x = 1\nassert x == 2, 'the snippet is wrong'\n", True)
    with pytest.raises(AssertionError, match="the snippet is wrong") as info:
        run_block(block, {})
    assert info.traceback[-1].lineno + 1 == 8  # pytest's line numbers start at 0


def test_blocks_after_the_marker_are_not_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    fence = "```"
    page.write_text(f"# t\n\n{NO_RUN}\n\n{fence}python\nraise SystemExit\n{fence}\n\n"
                    f"{fence}python\nx = 1\n{fence}\n")  # fmt: skip
    assert [(b.line, b.run) for b in python_blocks(page)] == [(6, False), (10, True)]


# --------------------------------------------------------------------------- links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, with GitHub's ``-1``, ``-2`` suffixes for repeats."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+)$", prose(page), flags=re.MULTILINE):
        base = slug(heading)
        seen[base if base not in seen else f"{base}-{seen[base]}"] = 0
        seen[base] = seen.get(base, 0) + 1
    return set(seen)


def links(page: Path) -> list[str]:
    """Targets of the page's Markdown links and images, outside code."""
    text = re.sub(r"`[^`\n]+`", "", prose(page))
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


def broken_link(page: Path, target: str) -> str | None:
    """Why a relative link does not resolve, or None when it does (or is not relative)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return None  # https:, mailto:, ...
    path_part, _, anchor = target.partition("#")
    path = (page.parent / path_part).resolve() if path_part else page
    if not path.is_relative_to(ROOT):
        return f"{target} leaves the repository"
    if not path.exists():
        return f"{target}: {rel(path) if path.is_relative_to(ROOT) else path} does not exist"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"{target}: no heading of {rel(path)} has the anchor #{anchor}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_resolve(page: Path) -> None:
    broken = [why for target in links(page) if (why := broken_link(page, target))]
    assert not broken, f"{rel(page)} has broken links:\n" + "\n".join(broken)


def test_link_checker_finds_missing_files_anchors_and_escapes(tmp_path: Path) -> None:
    page = ROOT / "docs" / "design.md"
    assert broken_link(page, "math.md") is None
    assert broken_link(page, "#the-layers") is None
    assert broken_link(page, "https://example.org/x") is None
    assert "does not exist" in broken_link(page, "nowhere.md")
    assert "no heading" in broken_link(page, "math.md#no-such-heading")
    assert "leaves the repository" in broken_link(page, "../../elsewhere.md")


def test_slugs_follow_github() -> None:
    assert slug("1. Facts and their proofs") == "1-facts-and-their-proofs"
    assert slug("The article's loop, made coherent") == "the-articles-loop-made-coherent"
    assert slug("Properties of `Hc`") == "properties-of-hc"


def test_index_links_every_docs_page_and_the_readme_links_the_index() -> None:
    linked = {(INDEX.parent / t.partition("#")[0]).resolve() for t in links(INDEX)}
    missing = [rel(p) for p in PAGES if p.parent.name == "docs" and p != INDEX and p not in linked]
    assert not missing, f"docs/index.md does not link {missing}"
    assert "docs/index.md" in links(ROOT / "README.md")


# --------------------------------------------------------------------------- commands and names


def command_lines(page: Path) -> list[str]:
    """The ``hsc-ref ...`` commands of the page's shell blocks (continuations joined)."""
    commands = []
    for block in fenced_blocks(page):
        if block.language not in SHELL_LANGUAGES:
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|;|\|\|", line):
                if part.strip().startswith("hsc-ref"):
                    commands.append(part.strip())
    return commands


@pytest.mark.parametrize("page", [p for p in PAGES if command_lines(p)], ids=rel)
def test_hsc_ref_command_lines_parse(page: Path, capsys) -> None:
    from hsc_ref.cli import build_parser

    for command in command_lines(page):
        try:
            build_parser().parse_args(shlex.split(command, comments=True)[1:])
        except SystemExit as exit_:
            message = capsys.readouterr().err.strip().splitlines()[-1:] or [""]
            assert exit_.code == 0, f"{rel(page)}: `{command}` does not parse: {message[0]}"


def resolves(dotted: str) -> bool:
    """Whether ``hsc_ref.a.b.name`` is a module, or a module's attribute chain."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        candidate = ".".join(parts[:split])
        try:
            target = importlib.import_module(candidate)
        except ModuleNotFoundError as error:
            if error.name != candidate:
                raise  # the module exists but one of its own imports fails
            continue
        for name in parts[split:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_module_paths_in_inline_code_exist(page: Path) -> None:
    names = {m for code in inline_code(page) for m in re.findall(r"\bhsc_ref(?:\.\w+)+", code)}
    missing = sorted(name for name in names if not resolves(name))
    assert not missing, f"{rel(page)} names what the package does not have: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_repository_paths_in_inline_code_exist(page: Path) -> None:
    dirs = "|".join(REPO_DIRS)
    paths = {p for code in inline_code(page) for p in re.findall(rf"^(?:{dirs})/[\w./*-]*$", code)}
    missing = sorted(p for p in paths if not any(ROOT.glob(p.rstrip("/"))))
    assert not missing, f"{rel(page)} names files that do not exist: {missing}"


def defined_tests() -> set[str]:
    pattern = re.compile(r"^\s*def (test_\w+)\(", flags=re.MULTILINE)
    return {n for f in (ROOT / "tests").rglob("*.py") for n in pattern.findall(f.read_text())}


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_tests_named_in_the_docs_exist(page: Path) -> None:
    named = set(re.findall(r"(?<![\w.])(test_\w+)\b(?!\.py|/)", prose(page)))
    missing = sorted(named - defined_tests())
    assert not missing, f"{rel(page)} names tests that tests/ does not define: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_pages_cite_only_the_repository(page: Path) -> None:
    """Design facts are cited as docs/design.md sections, never as notes users cannot see."""
    text = page.read_text(encoding="utf-8")
    hits = [m[0] for m in EXTERNAL_DESIGN.finditer(text)]
    assert not hits, f"{rel(page)} cites outside the repository: {hits}; cite docs/design.md"
