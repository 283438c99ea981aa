"""The docs and the README speak of the product only, never of how it was built."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BUILD_WORDS = re.compile(r"\bissue \d+|\bitem \d+\b|\bwas lent\b|\bno GPU was\b", re.IGNORECASE)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_words_about_how_it_was_built(path: pathlib.Path) -> None:
    hits = [m.group(0) for m in BUILD_WORDS.finditer(path.read_text(encoding="utf-8"))]
    assert not hits, f"{path.relative_to(ROOT)} speaks of its own making: {hits}"
