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

import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import __version__, _io, _outputs, _validation
from hsc_ref.golden.cases import (
    CASE_NAMES,
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
    "verify_golden",
    "save_results",
    "result_keys",
    "load_results",
]

SCHEMA_VERSION = 1
"""Version of the file layout and manifest schema; readers reject any other."""

MANIFEST_NAME = "manifest.json"


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
    expected_cases : tuple of str
        The cases a complete check must cover. :func:`read_golden` sets every case this
        hsc_ref writes (:data:`~hsc_ref.golden.cases.CASE_NAMES`), so a case absent from the
        folder is reported missing; empty (the default, for sets built in memory) means the
        set's own cases.
    """

    directory: Path
    manifest: dict[str, Any]
    cases: dict[str, GoldenCase]
    expected_cases: tuple[str, ...] = ()


# --------------------------------------------------------------------------- files


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


def _case_bytes(case: GoldenCase) -> bytes:
    """The case's ``.npz``: ``input/<name>`` and ``output/<name>`` arrays, reproducible bytes."""
    arrays = {f"input/{k}": v for k, v in case.inputs.items()}
    return _io.npz_bytes(arrays | {f"output/{k}": v for k, v in case.outputs.items()})


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


def _manifest_header(seed: int) -> dict[str, Any]:
    """Everything of the manifest but the cases and the versions: fixed by this hsc_ref."""
    return {
        "schema_version": SCHEMA_VERSION,
        "format": "hsc_ref golden set",
        "seed": int(seed),
        "dtype": "float64",
        "conventions": CONVENTIONS,
        "tolerance_policy": {
            "check": "|actual - desired| <= atol + rtol * |desired| elementwise",
            "safety_factor": SAFETY,
            "eps": {p: eps_of(p) for p in PRECISIONS},
            "precision": (
                "a result set is checked at one precision: the one given (--precision), else "
                "the highest of its floating arrays; an array below it fails"
            ),
            "not_comparable": (
                "reported, never failed; may be left out of the results (reported 'not "
                "provided'). A comparable output left out is missing and fails, unless the "
                "check is restricted with --only, which lists what it did not check"
            ),
            "integrity": (
                "'hsc-ref golden check' regenerates every case from the seed and refuses a set "
                "whose files or manifest differ from what this hsc_ref version writes"
            ),
            "doc": "docs/validating.md",
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
        If ``directory`` holds a set and ``overwrite`` is false, or holds any other file
        (nothing is written then).

    Notes
    -----
    The same seed gives byte-identical files on the same machine: the ``.npz`` entries are
    written in sorted order with a fixed date, and the manifest has no time stamp. The whole
    set is written into a sibling folder first and then renamed into place (or exchanged
    atomically with the previous set): an interrupted write leaves the previous set intact,
    and a reader sees the old set or the new one, never a mix.

    Examples
    --------
    >>> import tempfile
    >>> path = write_golden(tempfile.mkdtemp(), only=["matrix_spd"])
    >>> path.name
    'manifest.json'
    """
    directory = Path(directory)
    _validation.check_count(seed, "seed")
    cases = build_cases(seed, only)
    _check_golden_folder(directory, overwrite)
    directory.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{directory.name}.writing-", dir=directory.parent))
    try:
        manifest: dict[str, Any] = {**_manifest_header(seed), "versions": _versions(), "cases": {}}
        for case in cases:
            data = _case_bytes(case)
            _io.atomic_write_bytes(stage / f"{case.name}.npz", data)
            manifest["cases"][case.name] = _case_manifest(case, data)
        _io.atomic_write_json(stage / MANIFEST_NAME, manifest)
        _place_set(stage, directory)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # the unfinished set, or the replaced one
    return directory / MANIFEST_NAME


_GOLDEN_NAMES = frozenset({MANIFEST_NAME, *(f"{name}.npz" for name in CASE_NAMES)})


def _check_golden_folder(directory: Path, overwrite: bool) -> None:
    """Refuse a folder holding a set (unless ``overwrite``) or any file not of a golden set."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory} is a file, not a folder for the golden set")
    present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    foreign = [name for name in present if name not in _GOLDEN_NAMES]
    if foreign:
        raise FileExistsError(
            f"{directory} holds {foreign[0]!r}, which is not part of a golden set: the set "
            f"replaces the whole folder, so write it to a folder of its own"
        )
    if present and not overwrite:
        raise FileExistsError(
            f"{directory / present[0]} exists; pass overwrite (--force) to replace the set"
        )


def _place_set(stage: Path, directory: Path) -> None:
    """Put the complete set in place: a rename, or an atomic exchange with the old set."""
    if directory.is_dir() and any(directory.iterdir()):
        _outputs.exchange(stage, directory)  # ``stage`` now holds the old set, removed after
    else:
        if directory.is_dir():
            directory.rmdir()
        os.rename(stage, directory)


# --------------------------------------------------------------------------- reading


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a key given twice is an error, never 'the last one wins'."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise GoldenFileError(f"duplicate JSON keys {repeated}")
    return dict(pairs)


def _parse_json(text: str, what: str) -> Any:
    """Parse JSON, refusing duplicate keys (which would silently replace earlier values)."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except GoldenFileError as exc:
        raise GoldenFileError(f"{what} has {exc}: refused (one of them would be ignored)") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise GoldenFileError(f"{what} is not valid JSON: {exc}") from exc


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise GoldenFileError(f"golden manifest {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GoldenFileError(f"golden manifest {path} is not valid JSON: {exc}") from exc
    manifest = _parse_json(text, f"golden manifest {path}")
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


def _verify_file(path: Path, spec: Mapping[str, Any]) -> bytes:
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
    return data


def _grouped_arrays(path: Path, spec: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The file's ``input/`` and ``output/`` arrays, exactly those the manifest names."""
    names = _io.npz_names(path, "golden data file", error=GoldenFileError)
    groups: dict[str, dict[str, np.ndarray]] = {"input": {}, "output": {}}
    for group, plural in (("input", "inputs"), ("output", "outputs")):
        expected = spec.get(plural, {})
        found = sorted(k.partition("/")[2] for k in names if k.startswith(f"{group}/"))
        if set(expected) != set(found):
            raise GoldenFileError(
                f"{path}: {plural} {found} differ from the manifest's {sorted(expected)}"
            )
    stray = [k for k in names if k.partition("/")[0] not in groups]
    if stray:
        raise GoldenFileError(f"{path}: unexpected entries {stray}")
    arrays = _io.load_npz(path, "golden data file", keys=names, error=GoldenFileError)
    for key, array in arrays.items():
        group, _, short = key.partition("/")
        entry = spec[f"{group}s"][short]
        if list(array.shape) != entry.get("shape") or str(array.dtype) != entry.get("dtype"):
            raise GoldenFileError(
                f"{path}: {group} {short!r} has shape {array.shape} dtype {array.dtype}, the "
                f"manifest says {entry.get('shape')} {entry.get('dtype')}"
            )
        groups[group][short] = array
    return groups


def _read_case(directory: Path, name: str, spec: Any) -> GoldenCase:
    if not isinstance(spec, dict) or not isinstance(spec.get("outputs"), dict):
        raise GoldenFileError(f"case {name!r}: manifest entry must be an object with 'outputs'")
    path = directory / str(spec.get("file", ""))
    if path.parent != directory or not path.name.endswith(".npz"):
        raise GoldenFileError(f"case {name!r}: manifest file entry must be '<case>.npz' in DIR")
    _verify_file(path, spec)
    groups = _grouped_arrays(path, spec)
    tols: dict[str, dict[str, Tolerance]] = {}
    for key, entry in spec["outputs"].items():
        try:
            tols[key] = {p: _checked_tolerance(entry["tolerance"][p]) for p in PRECISIONS}
        except (KeyError, TypeError, ValueError) as exc:
            raise GoldenFileError(
                f"case {name!r} output {key!r}: bad tolerance entry ({type(exc).__name__}: {exc})"
            ) from exc
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


# --------------------------------------------------------------------------- integrity


@functools.lru_cache(maxsize=8)
def _regenerated(seed: int, names: tuple[str, ...]) -> dict[str, tuple[dict[str, Any], dict]]:
    """What this hsc_ref writes for ``names``: each case's manifest entry and its arrays.

    Cached per process: the cases are deterministic, and a test session reads one set often.
    """
    out = {}
    for case in build_cases(seed, names):
        data = _case_bytes(case)
        entry = json.loads(json.dumps(_case_manifest(case, data)))
        out[case.name] = (entry, {"input": case.inputs, "output": case.outputs})
    return out


def _first_difference(found: Any, expected: Any, where: str) -> str | None:
    """Path and values of the first difference between two JSON values, or None."""
    if isinstance(found, dict) and isinstance(expected, dict):
        for key in sorted(set(found) | set(expected)):
            if key not in found or key not in expected:
                side = "has an extra" if key in found else "lacks the"
                return f"{where} {side} entry {key!r}"
            diff = _first_difference(found[key], expected[key], f"{where}.{key}")
            if diff:
                return diff
        return None
    if found != expected or type(found) is not type(expected):
        return f"{where} is {found!r} in the file, {expected!r} in this version"
    return None


def _array_difference(case: GoldenCase, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """Name the largest changed array of a case whose data file differs from this version's."""
    worst = ("", "", 0.0, 0.0)
    for group, mine in arrays.items():
        theirs = case.inputs if group == "input" else case.outputs
        for key, expected in mine.items():
            a = np.asarray(theirs[key], dtype=np.float64)
            e = np.asarray(expected, dtype=np.float64)
            err = float(np.abs(a - e).max()) if a.size else 0.0
            scale = float(np.abs(e).max()) if e.size else 0.0
            if err > worst[2]:
                worst = (group, key, err, scale)
    group, key, err, scale = worst
    if not key:
        return "the bytes differ while every array is equal (another writer?)"
    return (
        f"{group} {key!r} differs by up to {err:.3g} (its largest entry is {scale:.3g}): a "
        f"modified reference or input"
    )


def verify_golden(gold: GoldenSet) -> None:
    """Refuse a golden set that is not exactly what this hsc_ref version writes.

    Every case of the manifest is regenerated from the manifest's seed; the manifest's
    header (conventions, tolerance policy), each case's entry (tolerances, reasons, meta,
    shapes, dtypes) and the SHA-256 of each data file must equal this version's. An edited
    tolerance, a re-hashed reference, a case this version does not write, all raise.

    Raises
    ------
    GoldenFileError
        Naming the first difference found, and how to regenerate the set.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_spd"])
    >>> verify_golden(read_golden(folder))  # read_golden already did: no error
    """
    manifest = gold.manifest
    seed = manifest.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GoldenFileError(f"golden manifest seed must be a non-negative integer, got {seed!r}")
    names = tuple(manifest["cases"])
    unknown = [n for n in names if n not in CASE_NAMES]
    if unknown:
        _refuse(gold, f"cases {unknown} are not cases this hsc_ref writes ({list(CASE_NAMES)})")
    header = json.loads(json.dumps(_manifest_header(seed)))
    found = {k: v for k, v in manifest.items() if k not in ("cases", "versions")}
    diff = _first_difference(found, header, "manifest")
    if diff:
        _refuse(gold, diff)
    for name, (entry, arrays) in _regenerated(seed, names).items():
        diff = _first_difference(manifest["cases"][name], entry, f"case {name!r}")
        if diff and (".sha256 " in diff or ".size " in diff):
            diff = f"case {name!r}: {_array_difference(gold.cases[name], arrays)}"
        if diff:
            _refuse(gold, diff)


def _refuse(gold: GoldenSet, difference: str) -> None:
    written = gold.manifest.get("versions")
    mine = _versions()
    versions = (
        ""
        if written == mine
        else f" (it records the versions {written}; this is {mine}: another version or "
        f"machine may round differently)"
    )
    raise GoldenFileError(
        f"golden set {gold.directory} is not what hsc_ref {__version__} writes for its seed: "
        f"{difference}{versions}. Tolerances and references are fixed by the version, not by "
        f"the files: regenerate the set with 'hsc-ref golden write DIR --force' and recompute "
        f"your results from its inputs"
    )


def read_golden(directory: str | os.PathLike) -> GoldenSet:
    """Read and verify a golden set.

    Raises
    ------
    GoldenFileError
        (a ``ValueError``) if the manifest is missing, not JSON, has a duplicate key or is of
        another schema version; a data file is missing, truncated, modified (size or SHA-256
        differ), holds a pickled array, or disagrees with the manifest on its arrays, shapes
        or dtypes; or the set is not what this hsc_ref version writes (:func:`verify_golden`).

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
    gold = GoldenSet(directory, manifest, cases, CASE_NAMES)
    verify_golden(gold)
    return gold


# --------------------------------------------------------------------------- results


def _check_result_keys(keys: Sequence[Any], where: str) -> None:
    bad = [k for k in keys if not isinstance(k, str) or k.count("/") != 1]
    if bad:
        raise GoldenFileError(f"{where}: keys must look like '<case>/<output>', got {bad}")


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
        ``{"<case>/<output>": array}``, every floating array at the precision the
        implementation computes in (a result set is checked at one precision).
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    _check_result_keys(list(results), "results")
    return _io.atomic_save_npz(
        path, {k: np.asarray(v) for k, v in results.items()}, overwrite=overwrite
    )


def result_keys(path: str | os.PathLike) -> list[str]:
    """The ``"<case>/<output>"`` keys of a results ``.npz``, without loading its arrays.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save_results(os.path.join(tempfile.mkdtemp(), "r.npz"), {"c/step": np.zeros(2)})
    >>> result_keys(path)
    ['c/step']
    """
    keys = _io.npz_names(path, "results file", error=GoldenFileError)
    _check_result_keys(keys, f"results file {path}")
    return keys


def load_results(
    path: str | os.PathLike, keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Load a results ``.npz`` without pickles; keys must look like ``"<case>/<output>"``.

    Parameters
    ----------
    path : path
        A file written by :func:`save_results` or ``numpy.savez``.
    keys : sequence of str, optional
        Load only these arrays (each must be present).

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    GoldenFileError
        If the file is missing, not an ``.npz``, holds a pickled array, or has bad keys.
    """
    names = result_keys(path)
    wanted = names if keys is None else list(keys)
    return _io.load_npz(path, "results file", keys=wanted, error=GoldenFileError)
