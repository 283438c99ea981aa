"""Helpers shared by the golden tests: a set's outputs as results, copies and manifest edits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hsc_ref import golden


def reference_results(gold: golden.GoldenSet) -> dict[str, np.ndarray]:
    """The golden outputs themselves as a results mapping (``"<case>/<output>"``)."""
    return {f"{c}/{o}": v for c, case in gold.cases.items() for o, v in case.outputs.items()}


def copy_set(src: Path, dst: Path) -> Path:
    """Copy a golden folder's files to a new folder ``dst``."""
    dst.mkdir()
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    return dst


def edit_manifest(folder: Path, edit: Callable[[dict], None]) -> None:
    """Rewrite a golden folder's manifest after ``edit`` changed it in place."""
    path = folder / golden.files.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
