"""Golden reference files: seeded cases, their derived tolerances, writing, reading, checking.

A *golden set* is a folder with one pickle-free ``.npz`` per case and a ``manifest.json``
that records the schema version, the versions that produced it, the conventions (flat
layout, losses, cutoff policy), every array's shape and dtype, the SHA-256 and size of each
data file, and for every output a tolerance per precision (``float64``, ``float32``):
``rtol``, ``atol``, whether the output is comparable at that precision, and the reason.

Another implementation reads the inputs, computes the outputs, saves them in one ``.npz``
with keys ``"<case>/<output>"`` and runs :func:`check_results` (or
``hsc-ref golden check DIR RESULTS.npz``). An output passes when, elementwise,
``|actual - desired| <= atol + rtol * |desired|``.

Cases and their tolerances are built in :mod:`hsc_ref.golden.cases`; the tolerance policy
is derived in ``docs/validating.md``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import math
import os
import platform
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import __version__, _io
from hsc_ref.golden.cases import (
    CONVENTIONS,
    PRECISIONS,
    SAFETY,
    GoldenCase,
    Tolerance,
    build_cases,
    eps_of,
)

__all__ = [
    "SCHEMA_VERSION",
    "MANIFEST_NAME",
    "GoldenFileError",
    "GoldenSet",
    "write_golden",
    "read_golden",
    "save_results",
    "load_results",
]

SCHEMA_VERSION = 1
"""Version of the file layout and manifest schema; readers reject any other."""

MANIFEST_NAME = "manifest.json"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed entry time: identical seeds give identical bytes


class GoldenFileError(ValueError):
    """A golden set or results file is missing, corrupted, tampered with or of another schema."""


@dataclass(frozen=True, eq=False)
class GoldenSet:
    """A golden set read back from disk, verified against its manifest.

    Attributes
    ----------
    directory : Path
        The folder.
    manifest : dict
        The parsed ``manifest.json``.
    cases : dict of str to GoldenCase
        The verified cases by name.
    """

    directory: Path
    manifest: dict[str, Any]
    cases: dict[str, GoldenCase]


# --------------------------------------------------------------------------- files


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """An uncompressed ``.npz`` with sorted entries and a fixed entry date: reproducible bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            array = np.asarray(arrays[key], order="C")
            if array.dtype.hasobject:
                raise TypeError(f"array {key!r} must not have object dtype (no pickles)")
            entry = io.BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def _versions() -> dict[str, str]:
    return {
        "hsc_ref": __version__,
        "numpy": np.__version__,
        "scipy": importlib.metadata.version("scipy"),
        "autograd": importlib.metadata.version("autograd"),
        "python": platform.python_version(),
    }


def _array_spec(array: np.ndarray) -> dict[str, Any]:
    return {"shape": list(array.shape), "dtype": str(array.dtype)}


def _case_manifest(case: GoldenCase, data: bytes) -> dict[str, Any]:
    return {
        "file": f"{case.name}.npz",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "kind": case.kind,
        "description": case.description,
        "meta": case.meta,
        "inputs": {k: _array_spec(np.asarray(v)) for k, v in case.inputs.items()},
        "outputs": {
            k: {
                **_array_spec(np.asarray(v)),
                "tolerance": {p: case.tolerances[k][p].to_json() for p in PRECISIONS},
            }
            for k, v in case.outputs.items()
        },
    }


def write_golden(
    directory: str | os.PathLike,
    *,
    seed: int = 0,
    only: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the golden cases from ``seed`` and write them, atomically, to ``directory``.

    Parameters
    ----------
    directory : path
        Output folder (created if needed); gets ``manifest.json`` and ``<case>.npz`` files.
    seed : int, default 0
        Global seed; each case draws from ``default_rng([seed, crc32(case name)])``.
    only : sequence of str, optional
        Write only these cases.
    overwrite : bool, default False
        Replace existing files; otherwise an existing file raises ``FileExistsError``.

    Returns
    -------
    Path
        The manifest's path.

    Raises
    ------
    FileExistsError
        If a file to write exists and ``overwrite`` is false (nothing is written then).

    Notes
    -----
    The same seed gives byte-identical files on the same machine: the ``.npz`` entries are
    written in sorted order with a fixed date, and the manifest has no time stamp. Data files
    are written first and the manifest last, so a reader never sees a manifest that names
    files not yet written.

    Examples
    --------
    >>> import tempfile
    >>> path = write_golden(tempfile.mkdtemp(), only=["matrix_spd"])
    >>> path.name
    'manifest.json'
    """
    directory = Path(directory)
    cases = build_cases(seed, only)
    targets = [directory / f"{c.name}.npz" for c in cases] + [directory / MANIFEST_NAME]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite (--force) to replace it")
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "format": "hsc_ref golden set",
        "seed": int(seed),
        "dtype": "float64",
        "versions": _versions(),
        "conventions": CONVENTIONS,
        "tolerance_policy": {
            "check": "|actual - desired| <= atol + rtol * |desired| elementwise",
            "safety_factor": SAFETY,
            "eps": {p: eps_of(p) for p in PRECISIONS},
            "not_comparable": "reported, never failed, may be missing",
            "doc": "docs/validating.md",
        },
        "cases": {},
    }
    for case in cases:
        data = _npz_bytes(
            {**{f"input/{k}": v for k, v in case.inputs.items()}}
            | {f"output/{k}": v for k, v in case.outputs.items()}
        )
        _io.atomic_write_bytes(directory / f"{case.name}.npz", data, overwrite=overwrite)
        manifest["cases"][case.name] = _case_manifest(case, data)
    return _io.atomic_write_json(directory / MANIFEST_NAME, manifest, overwrite=overwrite)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise GoldenFileError(f"golden manifest {path} does not exist")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoldenFileError(f"golden manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cases"), dict):
        raise GoldenFileError(f"golden manifest {path} must be an object with 'cases'")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GoldenFileError(
            f"golden manifest {path} has schema_version {version!r}; this hsc_ref "
            f"{__version__} reads schema_version {SCHEMA_VERSION} only: regenerate it with "
            f"'hsc-ref golden write' or use the hsc_ref version that wrote it"
        )
    return manifest


def _load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of a pickle-free ``.npz``, with a clear error for each way it can be bad."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        raise GoldenFileError(f"{what} {path} must be an .npz archive, got a single-array .npy")
    if not magic.startswith(b"PK"):
        raise GoldenFileError(f"{what} {path} is not an .npz archive (no zip signature)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except GoldenFileError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise GoldenFileError(
                f"{what} {path} contains a pickled (object-dtype) array; only plain numeric "
                f"arrays are accepted, pickles are never loaded"
            ) from exc
        raise GoldenFileError(f"{what} {path} could not be read as an .npz: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise GoldenFileError(
            f"{what} {path} is not a readable .npz (truncated or corrupted?): {exc}"
        ) from exc


def _verify_file(path: Path, spec: Mapping[str, Any]) -> None:
    if not path.is_file():
        raise GoldenFileError(f"golden data file {path} named by the manifest does not exist")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != spec.get("size") or digest != spec.get("sha256"):
        raise GoldenFileError(
            f"golden data file {path} does not match the manifest (size {len(data)} vs "
            f"{spec.get('size')}, SHA-256 {digest[:16]}... vs {str(spec.get('sha256'))[:16]}...): "
            f"it was truncated, corrupted or modified; regenerate it with 'hsc-ref golden write'"
        )


def _read_case(directory: Path, name: str, spec: Any) -> GoldenCase:
    if not isinstance(spec, dict) or not isinstance(spec.get("outputs"), dict):
        raise GoldenFileError(f"case {name!r}: manifest entry must be an object with 'outputs'")
    path = directory / str(spec.get("file", ""))
    if path.parent != directory or not path.name.endswith(".npz"):
        raise GoldenFileError(f"case {name!r}: manifest file entry must be '<case>.npz' in DIR")
    _verify_file(path, spec)
    arrays = _load_npz(path, "golden data file")
    groups: dict[str, dict[str, np.ndarray]] = {"input": {}, "output": {}}
    for key, array in arrays.items():
        group, _, short = key.partition("/")
        if group not in groups:
            raise GoldenFileError(f"{path}: unexpected entry {key!r}")
        groups[group][short] = array
    tols: dict[str, dict[str, Tolerance]] = {}
    for group, plural in (("input", "inputs"), ("output", "outputs")):
        expected = spec.get(plural, {})
        if set(expected) != set(groups[group]):
            raise GoldenFileError(
                f"{path}: {plural} {sorted(groups[group])} differ from the manifest's "
                f"{sorted(expected)}"
            )
        for key, entry in expected.items():
            array = groups[group][key]
            if list(array.shape) != entry.get("shape") or str(array.dtype) != entry.get("dtype"):
                raise GoldenFileError(
                    f"{path}: {group} {key!r} has shape {array.shape} dtype {array.dtype}, the "
                    f"manifest says {entry.get('shape')} {entry.get('dtype')}"
                )
    for key, entry in spec["outputs"].items():
        try:
            tols[key] = {p: _checked_tolerance(entry["tolerance"][p]) for p in PRECISIONS}
        except (KeyError, TypeError, ValueError) as exc:
            raise GoldenFileError(f"case {name!r} output {key!r}: bad tolerance entry") from exc
    return GoldenCase(
        name,
        str(spec.get("kind", "")),
        str(spec.get("description", "")),
        groups["input"],
        groups["output"],
        tols,
        dict(spec.get("meta", {})),
    )


def _checked_tolerance(entry: Mapping[str, Any]) -> Tolerance:
    """A manifest tolerance entry with finite non-negative tolerances and a boolean flag."""
    tol = Tolerance(**entry)
    for value in (tol.rtol, tol.atol):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"tolerances must be non-negative numbers, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"tolerances must be finite, got {value!r}")
    if not isinstance(tol.comparable, bool) or not isinstance(tol.reason, str):
        raise TypeError("comparable must be a boolean and reason a string")
    return Tolerance(float(tol.rtol), float(tol.atol), tol.comparable, tol.reason)


def read_golden(directory: str | os.PathLike) -> GoldenSet:
    """Read and verify a golden set.

    Raises
    ------
    GoldenFileError
        (a ``ValueError``) if the manifest is missing, not JSON or of another schema version,
        or a data file is missing, truncated, modified (size or SHA-256 differ), holds a
        pickled array, or disagrees with the manifest on its arrays, shapes or dtypes.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_spd"])
    >>> sorted(read_golden(folder).cases)
    ['matrix_spd']
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    cases = {name: _read_case(directory, name, spec) for name, spec in manifest["cases"].items()}
    return GoldenSet(directory, manifest, cases)


def save_results(
    path: str | os.PathLike, results: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Save an implementation's outputs (keys ``"<case>/<output>"``) as a pickle-free ``.npz``.

    Written atomically and reproducibly (sorted entries, fixed dates).

    Parameters
    ----------
    path : path
        Target file.
    results : mapping of str to array_like
        ``{"<case>/<output>": array}``; float32 arrays select float32 tolerances.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    for key in results:
        if not isinstance(key, str) or key.count("/") != 1:
            raise ValueError(f"result keys must look like '<case>/<output>', got {key!r}")
    data = _npz_bytes({k: np.asarray(v) for k, v in results.items()})
    return _io.atomic_write_bytes(path, data, overwrite=overwrite)


def load_results(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a results ``.npz`` without pickles; keys must look like ``"<case>/<output>"``.

    Parameters
    ----------
    path : path
        A file written by :func:`save_results` or ``numpy.savez``.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    GoldenFileError
        If the file is missing, not an ``.npz``, holds a pickled array, or has bad keys.
    """
    path = Path(path)
    if not path.is_file():
        raise GoldenFileError(f"results file {path} does not exist")
    arrays = _load_npz(path, "results file")
    bad = [k for k in arrays if k.count("/") != 1]
    if bad:
        raise GoldenFileError(f"results file {path}: keys must be '<case>/<output>', got {bad}")
    return arrays


# --------------------------------------------------------------------------- checking
