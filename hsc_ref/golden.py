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

Cases and their tolerances are built in :mod:`hsc_ref._golden_cases`; the tolerance policy
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
from hsc_ref._golden_cases import (
    CASE_NAMES,
    CONVENTIONS,
    PRECISIONS,
    SAFETY,
    GoldenCase,
    Tolerance,
    build_case,
    build_cases,
    eps_of,
)
from hsc_ref.testing import compare_arrays

__all__ = [
    "SCHEMA_VERSION",
    "SAFETY",
    "PRECISIONS",
    "MANIFEST_NAME",
    "GoldenFileError",
    "Tolerance",
    "GoldenCase",
    "GoldenSet",
    "CheckRow",
    "CheckReport",
    "CASE_NAMES",
    "build_case",
    "build_cases",
    "write_golden",
    "read_golden",
    "save_results",
    "load_results",
    "check_results",
    "torch_parameter_order",
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


@dataclass(frozen=True)
class CheckRow:
    """One compared output: errors, the tolerance applied, the verdict and why.

    Attributes
    ----------
    case, output : str
        What was compared.
    precision : str
        ``"float64"`` or ``"float32"``: whose tolerances applied.
    status : str
        ``"pass"``, ``"fail"``, ``"missing"`` or ``"not comparable"`` (reported only; it
        cannot fail).
    max_abs_err, max_rel_err : float or None
        ``max|actual - desired|`` and that divided by ``max|desired|`` (None when missing).
    atol, rtol : float
        The tolerance applied.
    reason : str
        How the tolerance was derived.
    message : str
        Why it failed (with the likely cause when recognizable), or empty.
    """

    case: str
    output: str
    precision: str
    status: str
    max_abs_err: float | None
    max_rel_err: float | None
    atol: float
    rtol: float
    reason: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (infinite errors become the string ``"inf"``)."""
        out = dict(vars(self))
        for key in ("max_abs_err", "max_rel_err"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = "inf"
        return out


@dataclass(frozen=True)
class CheckReport:
    """All rows of a check, with the unexpected result keys.

    Attributes
    ----------
    golden_dir : str
        The golden folder checked against.
    rows : tuple of CheckRow
        One per output of every checked case.
    unexpected : tuple of str
        Result keys that name no golden output (ignored).
    """

    golden_dir: str
    rows: tuple[CheckRow, ...]
    unexpected: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when no output failed and none is missing."""
        return not any(r.status in ("fail", "missing") for r in self.rows)

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        counts = {s: 0 for s in ("pass", "fail", "missing", "not comparable")}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "golden_dir": self.golden_dir,
            "passed": self.passed,
            "counts": self.counts(),
            "unexpected_keys": list(self.unexpected),
            "rows": [r.to_json() for r in self.rows],
        }

    def format_table(self, *, failures_only: bool = False) -> str:
        """A plain-text table (case, output, precision, errors, tolerance, status) and notes."""
        rows = [r for r in self.rows if not failures_only or r.status in ("fail", "missing")]
        head = ("case", "output", "prec", "max abs err", "max rel err", "atol", "rtol", "status")
        body = [
            (
                r.case,
                r.output,
                r.precision,
                _fmt(r.max_abs_err),
                _fmt(r.max_rel_err),
                _fmt(r.atol),
                _fmt(r.rtol),
                r.status.upper() if r.status in ("fail", "missing") else r.status,
            )
            for r in rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *body)
        ]
        notes = [
            f"- {r.case}/{r.output} {r.status.upper()}: {r.message}"
            for r in rows
            if r.status in ("fail", "missing")
        ]
        counts = self.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        lines += ["", f"{'PASSED' if self.passed else 'FAILED'}: {summary}", *notes]
        if self.unexpected:
            lines.append(f"(ignored keys not in the golden set: {', '.join(self.unexpected)})")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def torch_parameter_order(layers: Sequence[Sequence[int]]) -> np.ndarray:
    """Indices ``p`` with ``torch_flat = ours[p]`` for ``nn.Linear`` layers ``(fan_in, fan_out)``.

    PyTorch's ``parameters_to_vector`` stores each ``weight`` as ``(out, in)`` row-major, then
    the bias; hsc_ref stores ``W = weight.T`` row-major, then the bias. A Hessian in PyTorch's
    order is ``H[np.ix_(p, p)]``.

    Examples
    --------
    >>> torch_parameter_order([(2, 3)])          # W (2, 3) = weight.T, then b (3,)
    array([0, 3, 1, 4, 2, 5, 6, 7, 8])
    """
    pieces, offset = [], 0
    for layer in layers:
        fan_in, fan_out = int(layer[0]), int(layer[1])
        weight = offset + np.arange(fan_in)[None, :] * fan_out + np.arange(fan_out)[:, None]
        pieces += [weight.ravel(), offset + fan_in * fan_out + np.arange(fan_out)]
        offset += fan_in * fan_out + fan_out
    return np.concatenate(pieces)


def _diagnose(case: GoldenCase, output: str, actual: np.ndarray, desired: np.ndarray) -> str:
    """Name the likely cause of a failure when it has a recognizable pattern."""
    a = np.asarray(actual, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    hints = []
    suffix = output[-2:] if output[-2:] in ("_g", "_d") else ""
    layers = case.meta.get(f"layers{suffix}")
    if layers and output in case.meta.get("flat_outputs", ()) and a.shape == d.shape:
        p = torch_parameter_order(layers)
        permuted = d[p] if d.ndim == 1 else d[np.ix_(p, p)]
        if np.allclose(a, permuted, rtol=1e-6, atol=1e-6 * max(np.abs(d).max(), 1e-300)):
            hints.append(
                "it matches the reference in PyTorch's parameter order (nn.Linear weight "
                "(out, in) row-major): report it in hsc_ref's flat layout, W = weight.T row-major "
                "then b (hsc_ref.golden.torch_parameter_order gives the permutation)"
            )
    if output.startswith("loss"):
        where = (
            "how the flat parameters are loaded (W = weight.T, "
            "hsc_ref.derivatives.layers_to_torch_linear), the inputs, and the conventions"
            if any(k.startswith("layers") for k in case.meta)
            else "the inputs and the conventions in the case's meta"
        )
        hints.append(
            f"the loss itself differs, so the function evaluated is not the reference one: "
            f"check {where}"
        )
    big = np.abs(d) > 1e-8 * np.abs(d).max() if d.size > 1 and np.abs(d).max() > 0 else None
    if big is not None and a.shape == d.shape and np.all(np.abs(a[~big]) <= 1e-8 * np.abs(a).max()):
        ratio = a[big] / d[big]
        k = float(np.median(ratio))
        if k != 0 and abs(k - 1) > 1e-3 and np.allclose(ratio, k, rtol=1e-5):
            hints.append(
                f"actual = {k:.6g} x reference (1/k = {1 / k:.6g}) everywhere: a scale or "
                f"normalization convention differs (see the manifest's conventions)"
            )
    scale = float(np.abs(d).max()) if d.size else 0.0
    if a.shape == d.shape and float(np.abs(a).max()) > 1e3 * max(scale, 1e-300):
        if output.startswith(("pinv", "hc", "step_literal")):
            hints.append(
                f"the result is {float(np.abs(a).max()) / max(scale, 1e-300):.1e} x larger than "
                f"the reference: a pseudo-inverse inverted rounding noise; pass the cutoff "
                f"rtol = 100 * n * eps(dtype) explicitly (torch.pinverse defaults to "
                f"rcond = 1e-15, far below float32 rounding)"
            )
    return "; ".join(hints)


def _case_precision(
    case: str, outputs: Sequence[str], results: Mapping[str, np.ndarray], precision: str
) -> str:
    if precision != "auto":
        return precision
    kinds = [np.asarray(results[f"{case}/{o}"]).dtype for o in outputs if f"{case}/{o}" in results]
    return "float32" if any(k == np.float32 for k in kinds) else "float64"


def _check_output(
    case: GoldenCase, output: str, precision: str, results: Mapping[str, np.ndarray]
) -> CheckRow:
    tol = case.tolerances[output][precision]
    key = f"{case.name}/{output}"
    desired = case.outputs[output]

    def row(status: str, err: Any, message: str) -> CheckRow:
        abs_err = None if err is None else err.max_abs_err
        rel_err = None if err is None else err.max_rel_err
        return CheckRow(
            case.name,
            output,
            precision,
            status,
            abs_err,
            rel_err,
            tol.atol,
            tol.rtol,
            tol.reason,
            message,
        )

    if key not in results:
        if not tol.comparable:
            return row("not comparable", None, f"not provided; not comparable: {tol.reason}")
        return row("missing", None, f"no '{key}' in the results")
    actual = np.asarray(results[key])
    comparison = compare_arrays(actual, desired, rtol=tol.rtol, atol=tol.atol)
    if not tol.comparable:
        return row("not comparable", comparison, tol.reason)
    if comparison.ok:
        return row("pass", comparison, "")
    diagnosable = actual.shape == desired.shape and actual.dtype.kind in "biuf"
    hint = _diagnose(case, output, actual, desired) if diagnosable else ""
    message = f"{comparison.message}; tolerance because: {tol.reason}"
    return row("fail", comparison, message + (f". Likely cause: {hint}" if hint else ""))


def check_results(
    golden: GoldenSet | str | os.PathLike,
    results: Mapping[str, Any] | str | os.PathLike,
    *,
    precision: str = "auto",
    only: Sequence[str] | None = None,
) -> CheckReport:
    """Compare another implementation's outputs with a golden set.

    Parameters
    ----------
    golden : GoldenSet or path
        A set read by :func:`read_golden`, or its folder.
    results : mapping or path
        ``{"<case>/<output>": array}`` or a results ``.npz`` (see :func:`save_results`).
    precision : {"auto", "float64", "float32"}
        Tolerances to apply. ``"auto"``: float32 for a case with any float32 result array.
    only : sequence of str, optional
        Check only these cases (others are neither compared nor reported missing).

    Returns
    -------
    CheckReport
        One row per output of every checked case; ``passed`` is false on any failure or
        missing comparable output.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_exact_zeros"])
    >>> outputs = read_golden(folder).cases["matrix_exact_zeros"].outputs
    >>> report = check_results(folder, {f"matrix_exact_zeros/{k}": v for k, v in outputs.items()})
    >>> report.passed, report.counts()["pass"]
    (True, 7)
    """
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be 'auto', 'float64' or 'float32', got {precision!r}")
    if not isinstance(golden, GoldenSet):
        golden = read_golden(golden)
    if isinstance(results, (str, os.PathLike)):
        results = load_results(results)
    names = list(golden.cases) if only is None else list(only)
    unknown = sorted(set(names) - set(golden.cases))
    if unknown:
        raise ValueError(f"cases must be among {sorted(golden.cases)}, got unknown {unknown}")
    rows = []
    for name in names:
        case = golden.cases[name]
        prec = _case_precision(name, list(case.outputs), results, precision)
        rows += [_check_output(case, out, prec, results) for out in case.outputs]
    known = {f"{n}/{o}" for n in golden.cases for o in golden.cases[n].outputs}
    unexpected = tuple(sorted(k for k in results if k not in known))
    return CheckReport(str(golden.directory), tuple(rows), unexpected)
