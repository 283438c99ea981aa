"""Golden reference files: seeded cases, their derived tolerances, writing, reading, checking.

A *golden set* is a folder with one pickle-free ``.npz`` per case and a ``manifest.json``
that records the schema version, the versions and BLAS libraries (kernel included) that
produced it, the conventions (flat layout, losses, cutoff policy), every array's shape and
dtype, the SHA-256 and size of each data file, and for every output a tolerance per
precision (``float64``, ``float32``): ``rtol``, ``atol``, whether the output is comparable at
that precision, and the reason.

Another implementation reads the inputs, computes the outputs, saves them in one ``.npz``
with keys ``"<case>/<output>"`` and runs :func:`check_results` (or
``hsc-ref golden check DIR RESULTS.npz``). An output passes when, elementwise,
``|actual - desired| <= atol + rtol * |desired|``.

Cases and their tolerances are built in :mod:`hsc_ref.golden.cases`; the tolerance policy
is derived in ``docs/validating.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import __version__, _io, _validation
from hsc_ref.golden.cases import (
    _MATRIX_NAMES,
    _TUNED_INDEX,
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
    "GoldenFileError",
    "GoldenSet",
    "write_golden",
    "read_golden",
    "verify_golden",
    "save_results",
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
    regeneration : Regeneration or None
        How closely the set agrees with this machine's regeneration (set by
        :func:`read_golden`; None for sets built in memory).
    """

    directory: Path
    manifest: dict[str, Any]
    cases: dict[str, GoldenCase]
    expected_cases: tuple[str, ...] = ()
    regeneration: Regeneration | None = None


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
                "sizes and SHA-256 of the files, schema, case list, flags, integers and texts "
                "exact; 'hsc-ref golden check' regenerates every case from the seed on its "
                f"machine and refuses a set whose inputs, references, tolerances or rounded meta "
                f"differ from it by more than {AGREEMENT:g} of their tolerances (another BLAS "
                f"kernel moves them by less); results are checked against the file's references"
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
    The same seed gives byte-identical files on the same machine (with the same BLAS thread
    count, recorded under ``"blas"``): the ``.npz`` entries are written in sorted order with a
    fixed date, and the manifest has no time stamp. Another machine writes the same inputs and
    references that agree within :data:`AGREEMENT` of their tolerances (:func:`verify_golden`).
    The whole set is written into a sibling folder first and then renamed into place (or exchanged
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
        manifest: dict[str, Any] = {
            **_manifest_header(seed),
            "versions": _versions(),
            "blas": blas_info(),
            "cases": {},
        }
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
        _io.exchange(stage, directory)  # ``stage`` now holds the old set, removed after
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

AGREEMENT = 0.25
"""Share of its tolerance by which a golden set may differ from this machine's regeneration.

Every tolerance is :data:`~hsc_ref.golden.cases.SAFETY` (10) times a first-order bound on the
float64 error of one implementation. Two correct float64 computations of the same reference,
on two machines (another BLAS kernel, another SIMD level of NumPy), each lie within that bound
of the exact value, so they differ by at most ``2 / SAFETY = 0.2`` of the tolerance: the share
accepted must be at least 0.2. 0.25 leaves a quarter of margin over it for the bounds' higher
order terms (measured across OpenBLAS kernels and NumPy SIMD levels: at most 0.06). It stays far
below what a wrong set needs: a reference moved by a full tolerance (share 1) is refused four
times over, and a correct implementation, within ``tolerance / SAFETY`` of the exact value,
passes against every accepted set: it is at most ``0.1 + 0.25 + 0.1 = 0.45`` of a tolerance
from the file's reference (this machine's reference is within 0.1 of the exact value). The
worst an accepted set can do, with a reference moved by 0.25 and its tolerance loosened by a
quarter, is let through an error of 1.5 tolerances from this machine's reference.
"""

_FEW_OPERATIONS = 16
"""Rounded float64 operations behind an input or a meta number that is not a matrix or a tuned
value: seeded draws, ``sin``/``cos``/products of them, a forward pass with fan-in 4. Its
tolerance is ``SAFETY * _FEW_OPERATIONS * eps * max|x|`` (40 ulps accepted at AGREEMENT)."""

_FORMER_HEADER = {
    ("tolerance_policy", "integrity"): (
        "'hsc-ref golden check' regenerates every case from the seed and refuses a set whose "
        "files or manifest differ from what this hsc_ref version writes"
    ),
}
"""Header texts of sets written before sets travelled: accepted in place of today's."""


@dataclass(frozen=True)
class Regeneration:
    """How closely a golden set agrees with this machine's regeneration of it.

    Attributes
    ----------
    largest_share : float
        The largest difference between a value of the set and this machine's, as a share of
        its tolerance (at most :data:`AGREEMENT` for an accepted set; 0 when bit-identical).
    where : str
        Which value it is (``"case 'matrix_spd': input 'H'"``), or empty.
    blas_recorded, blas_here : tuple of dict
        The BLAS libraries the set records (empty for a set written before the record) and
        those of this machine (:func:`blas_info`).
    """

    largest_share: float
    where: str
    blas_recorded: tuple[dict[str, Any], ...]
    blas_here: tuple[dict[str, Any], ...]

    def summary(self) -> str:
        """One line: how close the set is to this machine's regeneration, and its BLAS."""
        if self.largest_share == 0:
            closeness = "bit for bit what this machine regenerates"
        else:
            closeness = (
                f"within {self.largest_share:.2g} of a tolerance of this machine's regeneration "
                f"(largest: {self.where}; accepted up to {AGREEMENT:g})"
            )
        blas = _describe_blas(self.blas_recorded)
        return f"golden set accepted: {closeness}; written with BLAS {blas}"


@functools.lru_cache(maxsize=8)
def _regenerated(seed: int, names: tuple[str, ...]) -> dict[str, tuple[dict[str, Any], GoldenCase]]:
    """What this hsc_ref writes on this machine for ``names``: manifest entries and cases.

    Cached per process: the cases are deterministic, and a test session reads one set often.
    """
    out = {}
    for case in build_cases(seed, names):
        entry = json.loads(json.dumps(_case_manifest(case, _case_bytes(case))))
        out[case.name] = (entry, case)
    return out


class _Differences:
    """The first refused difference, and the largest accepted share, of one comparison."""

    def __init__(self) -> None:
        self.refused: str | None = None
        self.largest = (0.0, "")

    def share(self, share: float, where: str, detail: str, of: str = "its tolerance") -> None:
        """Record a difference of ``share`` of its tolerance; refuse it above AGREEMENT."""
        if self.refused is not None:
            return
        if share > AGREEMENT:
            self.refused = (
                f"{where} {detail}: {share:.3g} x {of}, beyond the {AGREEMENT:g} x accepted "
                f"between machines"
            )
        elif share > self.largest[0]:
            self.largest = (share, where)

    def exact(self, where: str, detail: str) -> None:
        """Record a difference no machine explains (a flag, an integer, a text)."""
        if self.refused is None:
            self.refused = f"{where} {detail}"


def _float_share(found: float, expected: float, tol: float) -> float:
    diff = 0.0 if found == expected else abs(found - expected)
    if diff == 0.0:
        return 0.0
    return diff / tol if tol > 0 and math.isfinite(diff) else math.inf


_NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")


def _text_difference(found: str, expected: str, where: str, diffs: _Differences) -> None:
    """Texts that format rounded numbers (reasons, meta): the words exact, each decimal number
    within AGREEMENT of itself (``.3g`` digits move with the rounding), integers exact."""
    a, b = _NUMBER.split(found), _NUMBER.split(expected)
    same_words = len(a) == len(b) and a[::2] == b[::2]
    if not same_words or any(
        x != y and not ({".", "e", "E"} & set(y)) for x, y in zip(a[1::2], b[1::2], strict=True)
    ):
        diffs.exact(where, f"is {found!r} in the file, {expected!r} in this version")
        return
    for x, y in zip(a[1::2], b[1::2], strict=True):
        diffs.share(
            _float_share(float(x), float(y), abs(float(y))),
            where,
            f"has {x} in the file where this machine writes {y}",
        )


def _json_difference(
    found: Any, expected: Any, where: str, diffs: _Differences, tol: Any = None
) -> None:
    """Compare manifest values: structure, integers, flags and words exact, floats within
    ``AGREEMENT`` of ``tol(where, expected)`` (None: exact), texts by :func:`_text_difference`."""
    if diffs.refused is not None:
        return
    if isinstance(found, dict) and isinstance(expected, dict):
        for key in sorted(set(found) | set(expected)):
            if key not in found or key not in expected:
                side = "has an extra" if key in found else "lacks the"
                diffs.exact(where, f"{side} entry {key!r}")
                return
            _json_difference(found[key], expected[key], f"{where}.{key}", diffs, tol)
        return
    if isinstance(found, list) and isinstance(expected, list) and len(found) == len(expected):
        for i, (x, y) in enumerate(zip(found, expected, strict=True)):
            _json_difference(x, y, f"{where}[{i}]", diffs, tol)
        return
    same_type = type(found) is type(expected)
    scale = tol(where, expected) if tol is not None and same_type else None
    if same_type and isinstance(expected, float) and scale is not None:
        detail = f"is {found!r} in the file, {expected!r} here"
        diffs.share(_float_share(found, expected, scale), where, detail)
    elif same_type and isinstance(expected, str) and scale is not None and found != expected:
        _text_difference(found, expected, where, diffs)
    elif found != expected or not same_type:
        diffs.exact(where, f"is {found!r} in the file, {expected!r} in this version")


def _entry_tolerance(case: GoldenCase) -> Any:
    """The tolerance of each rounding-dependent number of a case's manifest entry."""
    eps = eps_of("float64")
    suffixes = {label: suffix for suffix, label in _MATRIX_NAMES.items()}

    def tol(where: str, value: Any) -> float | None:
        parts = where.split(".")
        if "tolerance" in parts and parts[-1] in ("rtol", "atol"):
            return abs(value)  # a tolerance within AGREEMENT of itself
        if parts[-1] == "reason" or (parts[1] == "meta" and isinstance(value, str)):
            return 0.0  # texts: their decimal numbers within AGREEMENT of themselves
        if parts[1] != "meta" or not isinstance(value, float):
            return None
        if len(parts) == 5 and parts[2] == "cutoff_policy" and parts[3] in suffixes:
            # ||H|| = max |lam| moves as the eigenvalues do (Weyl); a cutoff is rtol ||H||
            lam_tol = case.tolerances[f"eigenvalues{suffixes[parts[3]]}"]["float64"].atol
            policy = case.meta["cutoff_policy"][parts[3]]
            factor = {"norm_H": 1.0, "cutoff_float64": policy["rtol_float64"]}
            factor["cutoff_float32"] = policy["rtol_float32"]
            if parts[4] in factor:
                return lam_tol * factor[parts[4]]
            return None  # n, rtol: exact
        return SAFETY * _FEW_OPERATIONS * eps * abs(value)

    return tol


def _input_tolerance(case: GoldenCase, key: str) -> tuple[Any, bool, str]:
    """Tolerance of one input of this machine's ``case``: ``(tol, whole, reason)``.

    ``whole``: ``tol`` bounds the Frobenius norm of the difference, else each entry.
    """
    value = np.asarray(case.inputs[key], dtype=np.float64)
    eps = eps_of("float64")
    if case.kind == "matrix" and key == "H":
        # H is built through BLAS (a seeded orthogonal factor times the spectrum). A change
        # of Frobenius norm t moves every eigenvalue by at most t (Weyl), and every output by
        # at most the same share of its tolerance: each is SAFETY x a bound linear in ||dH||.
        return case.tolerances["eigenvalues"]["float64"].atol, True, "its eigenvalue tolerance"
    tol = np.full(value.shape, SAFETY * _FEW_OPERATIONS * eps * float(np.abs(value).max(initial=0)))
    reason = f"{SAFETY:g} x {_FEW_OPERATIONS} rounded operations"
    if key == "phi" and "tuned" in case.meta:
        # the tuned bias sets log(min |lam(H_D)|) by Newton steps of slope -2: it is known to
        # half the relative uncertainty of that eigenvalue, its tolerance over its size
        lam = np.abs(case.outputs["eigenvalues_d"])
        lam_tol = case.tolerances["eigenvalues_d"]["float64"].atol
        tol[_TUNED_INDEX] = 0.5 * lam_tol / float(lam.min())
        reason += "; the tuned bias: half the relative tolerance of the eigenvalue it places"
    return tol, False, reason


def _array_share(found: Any, expected: Any, tol: Any, whole: bool) -> tuple[float, float]:
    """``(largest difference, its share of tol)``; equal non-finite entries count as equal."""
    a = np.asarray(found, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    same = (a == e) | (np.isnan(a) & np.isnan(e))
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - e))
    diff = np.where(np.isnan(diff), np.inf, diff)
    if not diff.size:
        return 0.0, 0.0
    if whole:
        size = float(np.sqrt(np.sum(diff**2))) if np.isfinite(diff).all() else math.inf
        return size, _float_share(size, 0.0, float(tol))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(diff == 0, 0.0, diff / np.asarray(tol, dtype=np.float64))
    shares = np.where(np.isnan(shares), np.inf, shares)
    return float(diff.max()), float(shares.max())


def _output_tolerance(case: GoldenCase, key: str) -> tuple[Any, str] | None:
    """This machine's tolerance of an output at the first precision it is comparable at."""
    for precision in PRECISIONS:
        tol = case.tolerances[key][precision]
        if tol.comparable:
            return tol.atol + tol.rtol * np.abs(np.asarray(case.outputs[key], float)), precision
    return None  # reported, never failed: rounding decides it, so nothing is compared


def _compare_arrays(found: GoldenCase, mine: GoldenCase, diffs: _Differences) -> None:
    """Inputs, then reference outputs, within AGREEMENT of their tolerances; integers exact."""
    where = f"case {mine.name!r}"
    for key, expected in mine.inputs.items():
        if key not in found.inputs or np.shape(found.inputs[key]) != np.shape(expected):
            continue  # the manifest comparison names it
        tol, whole, reason = _input_tolerance(mine, key)
        size, share = _array_share(found.inputs[key], expected, tol, whole)
        norm = "in Frobenius norm " if whole else ""
        detail = f"differs by {'' if whole else 'up to '}{size:.3g} {norm}from this machine's "
        detail += f"regeneration ({reason})"
        diffs.share(share, f"{where}: input {key!r}", detail)
    for key, expected in mine.outputs.items():
        if key not in found.outputs or np.shape(found.outputs[key]) != np.shape(expected):
            continue  # the manifest comparison names it
        tolerance = _output_tolerance(mine, key)
        if tolerance is None:
            continue
        a, e = np.asarray(found.outputs[key]), np.asarray(expected)
        if e.dtype.kind in "iub":
            if not np.array_equal(a, e):
                diffs.exact(
                    f"{where}: output {key!r}",
                    f"is {a.tolist()} in the file, {e.tolist()} on this machine: an integer or "
                    f"flag that no rounding explains",
                )
            continue
        size, share = _array_share(a, e, tolerance[0], False)
        detail = f"differs by up to {size:.3g} from this machine's regeneration"
        diffs.share(share, f"{where}: output {key!r}", detail, f"its {tolerance[1]} tolerance")


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries NumPy and SciPy run here (``threadpoolctl.threadpool_info()``).

    Each entry has ``internal_api``, ``version``, ``architecture`` (the kernel, e.g.
    ``"SkylakeX"``, which ``OPENBLAS_CORETYPE`` selects), ``num_threads`` and ``filename`` (the
    library's file name). Recorded in every golden manifest under ``"blas"``: the kernel, not
    the library versions, is what moves the last bits of a reference.

    Examples
    --------
    >>> sorted(blas_info()[0])
    ['architecture', 'filename', 'internal_api', 'num_threads', 'version']
    """
    import scipy.linalg  # noqa: F401, PLC0415  (load SciPy's BLAS too)

    try:
        import threadpoolctl  # noqa: PLC0415  (a core dependency, guarded anyway)
    except ImportError:
        return [{"unavailable": "threadpoolctl is not installed"}]
    found = [
        {
            "internal_api": info.get("internal_api"),
            "version": info.get("version"),
            "architecture": info.get("architecture"),
            "num_threads": info.get("num_threads"),
            "filename": os.path.basename(str(info.get("filepath", ""))),
        }
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return sorted(found, key=lambda lib: lib["filename"])


def verify_golden(gold: GoldenSet) -> Regeneration:
    """Refuse a golden set that is not what this hsc_ref writes, up to another machine's rounding.

    Exact: the schema and header (conventions, tolerance policy), the case list (cases this
    version writes), each case's entry (kind, description, array names, shapes, dtypes, the
    ``comparable`` flag of every tolerance, the words of every reason) and, read before by
    :func:`read_golden`, the size and SHA-256 of every file. Within :data:`AGREEMENT` of their
    tolerances, against this machine's regeneration from the manifest's seed: every input,
    every reference output comparable at some precision (at its tightest comparable tolerance;
    an output comparable at no precision is decided by rounding and never fails a check, so it
    is not compared), every tolerance (within that share of itself), and the rounded numbers of
    the meta (``||H||`` and the cutoffs, within that share of the eigenvalue tolerance). Integer
    and flag outputs (ranks) must be equal. A result set is then checked against the *file's*
    references and tolerances, so a set gives the same verdict on every machine that accepts it.

    Returns
    -------
    Regeneration
        The largest accepted share and where, and the BLAS recorded and here.

    Raises
    ------
    GoldenFileError
        Naming the first refused difference (case, array or key, its size as a share of its
        tolerance) and the BLAS libraries recorded and here when they differ.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_spd"])
    >>> verify_golden(read_golden(folder)).largest_share  # written here: bit-identical
    0.0
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
    found = {k: v for k, v in manifest.items() if k not in ("cases", "versions", "blas")}
    for (section, key), former in _FORMER_HEADER.items():
        if found.get(section, {}).get(key) == former:
            found = {**found, section: {**found[section], key: header[section][key]}}
    diffs = _Differences()
    _json_difference(found, header, "manifest", diffs)
    for name, (entry, case) in _regenerated(seed, names).items():
        if diffs.refused is None:
            _compare_arrays(gold.cases[name], case, diffs)
        written = {k: v for k, v in manifest["cases"][name].items() if k not in ("sha256", "size")}
        mine = {k: v for k, v in entry.items() if k not in ("sha256", "size")}
        _json_difference(written, mine, f"case {name!r}", diffs, _entry_tolerance(case))
    if diffs.refused is not None:
        _refuse(gold, diffs.refused)
    recorded = manifest.get("blas", [])
    return Regeneration(
        diffs.largest[0],
        diffs.largest[1],
        tuple(recorded) if isinstance(recorded, list) else (),
        tuple(blas_info()),
    )


def _describe_blas(libraries: Any) -> str:
    if not libraries:
        return "none (written before sets recorded their BLAS)"
    if not isinstance(libraries, list):
        return repr(libraries)
    return "; ".join(
        f"{lib.get('internal_api')} {lib.get('version')}, kernel {lib.get('architecture')}, "
        f"{lib.get('num_threads')} thread{'' if lib.get('num_threads') == 1 else 's'} "
        f"({lib.get('filename')})"
        if isinstance(lib, dict) and "internal_api" in lib
        else str(lib)
        for lib in libraries
    )


def _without_threads(libraries: Any) -> list[Any]:
    """BLAS records up to their thread counts (small products run on one thread anyway)."""
    if not isinstance(libraries, list):
        return [libraries]
    return [
        {k: v for k, v in lib.items() if k != "num_threads"} if isinstance(lib, dict) else lib
        for lib in libraries
    ]


def _refuse(gold: GoldenSet, difference: str) -> None:
    recorded, here = gold.manifest.get("blas", []), blas_info()
    if _without_threads(recorded) == _without_threads(here):
        blas = f" Written with the BLAS this machine runs ({_describe_blas(here)})."
    else:
        blas = (
            f" The set records the BLAS {_describe_blas(recorded)}; this machine runs "
            f"{_describe_blas(here)}."
        )
    written = gold.manifest.get("versions")
    mine = _versions()
    changed = [
        f"{k} {written.get(k)} there, {v} here"
        for k, v in mine.items()
        if isinstance(written, dict) and written.get(k) != v
    ]
    versions = f" Versions that differ: {', '.join(changed)}." if changed else ""
    raise GoldenFileError(
        f"golden set {gold.directory} is not what hsc_ref {__version__} writes for its seed: "
        f"{difference}.{blas}{versions} Another machine's rounding moves a set by at most "
        f"{AGREEMENT:g} of each tolerance and never a flag, an integer or a text: this set was "
        f"modified, or written by another hsc_ref. Regenerate it with 'hsc-ref golden write "
        f"DIR --force' and recompute your results from its inputs"
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
    return dataclasses.replace(gold, regeneration=verify_golden(gold))


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


_RESULT_KINDS = "biufc"
"""NumPy dtype kinds a results entry may hold: booleans, integers, real and complex floats
(those :func:`hsc_ref.testing.compare_arrays` compares; strings and bytes it cannot)."""


def load_results(
    path: str | os.PathLike,
    keys: Sequence[str] | None = None,
    *,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, np.ndarray]:
    """Load a results ``.npz`` without pickles; keys must look like ``"<case>/<output>"``.

    Parameters
    ----------
    path : path
        A file written by :func:`save_results` or ``numpy.savez``.
    keys : sequence of str, optional
        Load only these arrays (each must be present).
    shapes : mapping of str to tuple of int, optional
        The shape each of these keys must have: checked from the entries' headers, and
        every entry's dtype must be numeric, before anything is unpacked.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    GoldenFileError
        If the file is missing, not an ``.npz``, holds a pickled array, has bad keys, an
        entry of another shape than ``shapes`` says or of a non-numeric dtype.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save_results(os.path.join(tempfile.mkdtemp(), "r.npz"), {"c/H": np.eye(2)})
    >>> load_results(path, shapes={"c/H": (2, 2)})["c/H"].shape
    (2, 2)
    >>> load_results(path, shapes={"c/H": (3, 3)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hsc_ref.golden.files.GoldenFileError: results file ... entry 'c/H' has shape (2, 2), not ...
    """
    names = result_keys(path)
    wanted = names if keys is None else list(keys)
    what = "results file"
    headers = _io.npz_headers(path, what, wanted, error=GoldenFileError)
    for key, (shape, dtype) in headers.items():
        entry = f"{what} {path} entry {key!r}"
        if dtype.kind not in _RESULT_KINDS:
            raise GoldenFileError(f"{entry} holds {dtype} values; results must be numbers")
        if shapes is not None and key in shapes and shape != tuple(shapes[key]):
            raise GoldenFileError(
                f"{entry} has shape {shape}, not the expected {tuple(shapes[key])} (read "
                f"from its header; nothing was unpacked)"
            )
    return _io.load_npz(path, what, keys=wanted, error=GoldenFileError)
