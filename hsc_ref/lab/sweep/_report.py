"""A sweep's report, rebuilt from its stored runs: CSV tables, a Markdown summary and plots.

Files written in the sweep folder (``hsc-ref sweep --report DIR`` rewrites them):

``runs.csv``      one row per planned run that is stored: phase, kind, setting, method,
                  step size, seed, every scalar metric, wall time, worker;
``summary.csv``   per phase, setting, method and step size: for each headline metric
                  (:data:`HEADLINE`) the median over seeds, a distribution-free confidence
                  interval for the median (:func:`median_ci`) with its exact coverage, and
                  the number of runs with a value; the count of diverged runs;
``protocol.csv``  tune-confirm mode: per setting and method, what was tuned (the step size),
                  over which grid, on which seeds, by which criterion, the choice (and whether
                  it lies at the edge of the grid: then widen the grid), and the
                  confirmation runs' medians and intervals;
``summary.md``    the same tables in Markdown, with the protocol stated in words;
``plots/``        per setting and headline metric, the median against the step size with its
                  interval, one line per method (matplotlib, extra ``plot``; skipped with one
                  line without it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.stats

from hsc_ref import _extras, _io
from hsc_ref.lab.sweep._protocol import Plan, Selection, plan
from hsc_ref.lab.sweep._spec import SweepSpec, parse_spec

__all__ = [
    "RUNS_DIR",
    "PLOTS_DIR",
    "RUN_FILE",
    "RUN_STATUSES",
    "SPEC_FILE",
    "REPORT_FILES",
    "HEADLINE",
    "CONFIDENCE",
    "MedianCI",
    "median_ci",
    "summary_metrics",
    "load_stored",
    "verify_run",
    "ReportFiles",
    "write_report",
]

RUNS_DIR = "runs"
"""Subfolder of a sweep folder holding one folder per finished run."""

PLOTS_DIR = "plots"
"""Subfolder of a sweep folder holding the report's plots."""

RUN_FILE = "run.json"
"""The record of a finished run: its options, command, phase, metrics and worker."""

SPEC_FILE = "spec.toml"
"""The sweep's spec, as given."""

REPORT_FILES = ("runs.csv", "summary.csv", "protocol.csv", "summary.md")
"""The report's tables (``protocol.csv`` in tune-confirm mode only)."""

HEADLINE = {
    "gan": (
        "modes_captured",
        "high_quality_fraction",
        "reverse_kl",
        "distance_to_equilibrium",
        "wall_time_per_step",
    ),
    "style": ("final_loss", "time_s"),
}
"""Metrics summarized with medians and intervals, per kind."""

CONFIDENCE = 0.95
"""Target coverage of the intervals for the median."""


class MedianCI(NamedTuple):
    """The median of ``n`` values and a distribution-free interval for the true median.

    Attributes
    ----------
    median : float
    low, high : float
        Order statistics ``x_(k)`` and ``x_(n+1-k)``.
    coverage : float
        The interval's exact coverage for a continuous distribution,
        ``1 - 2 P(B <= k - 1)`` with ``B ~ Binomial(n, 1/2)``: at least the target where
        ``n`` allows (``n >= 6`` for 95 %), else the largest possible (min to max).
    n : int
    """

    median: float
    low: float
    high: float
    coverage: float
    n: int


def median_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> MedianCI:
    """The median and the narrowest order-statistic interval covering it with ``confidence``.

    The interval ``[x_(k), x_(n+1-k)]`` contains the true median unless at most ``k - 1``
    values fall below it or above it, so its coverage is ``1 - 2 P(B <= k - 1)``,
    ``B ~ Binomial(n, 1/2)``, whatever the distribution (continuous; ties only widen it).
    The largest ``k`` whose coverage reaches ``confidence`` is used; when even ``k = 1``
    falls short the interval is the range and the coverage says so.

    Parameters
    ----------
    values : sequence of float
        Finite values (at least one).
    confidence : float
        Target coverage in (0, 1).

    Returns
    -------
    MedianCI

    Examples
    --------
    >>> r = median_ci(range(1, 11))              # n = 10: k = 2, coverage 1 - 2 * 11/1024
    >>> r.median, r.low, r.high, round(r.coverage, 4)
    (5.5, 2.0, 9.0, 0.9785)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite and non-empty, got {x.size} values")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = int(x.size)
    k = 1
    while k + 1 <= (n + 1) // 2 and _coverage(n, k + 1) >= confidence:
        k += 1
    return MedianCI(float(np.median(x)), float(x[k - 1]), float(x[n - k]), _coverage(n, k), n)


def _coverage(n: int, k: int) -> float:
    return float(1.0 - 2.0 * scipy.stats.binom.cdf(k - 1, n, 0.5))


# --------------------------------------------------------------------------- stored runs


def summary_metrics(kind: str, metrics_json: bytes) -> dict[str, Any]:
    """The scalar metrics of a run, read from its ``metrics.json``.

    Examples
    --------
    >>> summary_metrics("gan", b'{"metrics": {"diverged_at": null}}')
    {'diverged_at': None}
    """
    data = json.loads(metrics_json)
    if kind == "gan":
        return dict(data["metrics"])
    out = {k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out["time_s"] = data["times_s"][-1]
    out["steps_completed"] = len(data["losses"]) - 1
    # every method but L-BFGS-B (which may converge early) stops early only at a non-finite
    # loss, gradient, Hessian or step: the step it reached is where it diverged
    early = out["steps_completed"] < data["settings"]["steps"] and data["method"] != "lbfgs"
    out["diverged_at"] = out["steps_completed"] if early else None
    return out


def load_stored(
    folder: str | os.PathLike,
    *,
    problems: dict[str, str] | None = None,
    lost: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every stored run of a sweep folder that passes its check: run key to ``run.json``.

    A run folder counts when its ``run.json`` reads as a record of the folder's key, every
    file it lists is there with the size and SHA-256 it lists and nothing else is, and its
    metrics are those of its ``metrics.json`` (:func:`verify_run`). Half-written runs
    (``.partial-*``) never count. Runs whose worker died (status ``lost``) are not stored
    runs: a rerun computes them again.

    Parameters
    ----------
    folder : path
        The sweep folder.
    problems : dict, optional
        Filled with run key to the reason, for each run folder that fails its check.
    lost : dict, optional
        Filled with run key to record, for each lost run.

    Returns
    -------
    dict of str to dict
    """
    stored = {}
    runs = Path(folder) / RUNS_DIR
    for path in sorted(runs.iterdir()) if runs.is_dir() else ():
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            record = verify_run(path)
        except ValueError as exc:
            if problems is not None:
                problems[path.name] = str(exc)
            continue
        if record["status"] == "lost":
            if lost is not None:
                lost[path.name] = record
            continue
        stored[record["key"]] = record
    return stored


RUN_STATUSES = ("finished", "diverged", "failed", "lost")
"""How a stored run ended: ``finished``; ``diverged`` (a non-finite loss, gradient, Hessian
or step ended it at ``steps_completed``; its outputs are stored); ``failed`` (an overflow or
its own memory limit stopped it; ``reason`` says which, no outputs); ``lost`` (its worker
died: reported, and computed again by a rerun)."""


def verify_run(path: str | os.PathLike) -> dict[str, Any]:
    """The ``run.json`` record of one run folder, after checking the folder against it.

    Raises ``ValueError`` naming what is wrong: no or unreadable ``run.json``, a record of
    another key or without its fields, a file missing, added or changed (size or SHA-256),
    or metrics that are not those of the run's ``metrics.json``.

    Parameters
    ----------
    path : path
        ``runs/<key>/``.

    Returns
    -------
    dict
    """
    path = Path(path)
    try:
        record = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"it holds no {RUN_FILE}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"its {RUN_FILE} is unreadable ({exc})") from None
    if not isinstance(record, dict) or record.get("key") != path.name:
        raise ValueError(f"its {RUN_FILE} is not the record of run {path.name}")
    if "files" not in record and "status" not in record and "metrics" in record:
        record = _legacy_record(path, record)  # written before records listed their files
    missing = [k for k in ("run", "metrics", "files", "status") if k not in record]
    if missing or record["status"] not in RUN_STATUSES or not isinstance(record["files"], dict):
        raise ValueError(f"its {RUN_FILE} lacks {missing or ['a known status']}")
    files = record["files"]
    present = {p.name for p in path.iterdir()} - {RUN_FILE, *record.get("_unlisted", ())}
    if present != set(files):
        raise ValueError(
            f"its files do not match {RUN_FILE}: missing {sorted(set(files) - present)}, "
            f"unlisted {sorted(present - set(files))}"
        )
    for name, expected in files.items():
        if _file_digest(path / name) != expected:
            raise ValueError(f"{name} differs from {RUN_FILE} (size or SHA-256)")
    if "metrics.json" in files:
        kind = record["run"].get("kind") if isinstance(record["run"], dict) else None
        try:
            metrics = summary_metrics(kind, (path / "metrics.json").read_bytes())
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"its metrics.json is unreadable ({exc})") from None
        stated = record["metrics"]  # an older record may lack a metric derived since
        if not isinstance(stated, dict) or any(
            k not in metrics or metrics[k] != v for k, v in stated.items()
        ):
            raise ValueError(f"the metrics in {RUN_FILE} are not those of its metrics.json")
        record = {**record, "metrics": metrics}
    elif record["status"] in ("finished", "diverged"):
        raise ValueError(f"a {record['status']} run must hold metrics.json")
    record.pop("_unlisted", None)
    return record


def _legacy_record(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """A record written before ``run.json`` listed its files: its command's manifest does."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"its {RUN_FILE} lists no files and its manifest.json is unreadable"
        ) from None
    diverged = (record["metrics"] or {}).get("diverged_at") is not None
    return {
        **record,
        "files": files,
        "_unlisted": ("manifest.json",),
        "status": "diverged" if diverged else "finished",
        "steps_completed": (record["metrics"] or {}).get("steps_completed"),
        "reason": None,
    }


def _file_digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return {"bytes": path.stat().st_size, "sha256": sha.hexdigest()}


def _read_folder(
    folder: Path,
) -> tuple[SweepSpec, dict[str, dict[str, Any]], dict[str, str], dict[str, dict[str, Any]]]:
    spec_file = folder / SPEC_FILE
    if not spec_file.is_file():
        raise FileNotFoundError(f"{folder} is not a sweep folder: {spec_file} does not exist")
    problems: dict[str, str] = {}
    lost: dict[str, dict[str, Any]] = {}
    stored = load_stored(folder, problems=problems, lost=lost)
    return parse_spec(spec_file.read_text(encoding="utf-8")), stored, problems, lost


# --------------------------------------------------------------------------- tables


def _run_rows(result: Plan, stored: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per planned run with a record (lost runs included: their status says so)."""
    rows = []
    for phase, runs in result.phases:
        for run in runs:
            record = stored.get(run.key)
            if record is None:
                continue
            row = {
                "phase": phase,
                "kind": run.kind,
                "setting": run.setting,
                "method": run.method,
                "lr": run.lr,
                "seed": run.seed,
                "key": run.key,
            }
            row |= {k: v for k, v in record["metrics"].items() if not isinstance(v, (list, dict))}
            row |= {"wall_s": record["wall_s"], "worker": record["worker"]}
            row |= {
                "status": _status(record),
                "steps_completed": record.get("steps_completed"),
                "reason": record.get("reason"),
            }
            rows.append(row)
    return rows


def _status(record: Mapping[str, Any]) -> str:
    """A record's status; records written before statuses existed: from ``diverged_at``."""
    if "status" in record:
        return record["status"]
    return "finished" if record["metrics"].get("diverged_at") is None else "diverged"


def _diverged(rows: Sequence[Mapping[str, Any]]) -> int:
    return sum(r.get("status") == "diverged" for r in rows)


def _failed(rows: Sequence[Mapping[str, Any]]) -> int:
    return sum(r.get("status") in ("failed", "lost") for r in rows)


def _group_key(row: Mapping[str, Any]) -> tuple:
    return (row["phase"], row["kind"], row["setting"], row["method"], row["lr"])


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _stats_columns(rows: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in HEADLINE[kind]:
        values = _finite([r.get(metric) for r in rows])
        if not values:
            continue
        ci = median_ci(values)
        out |= {
            f"{metric}_median": ci.median,
            f"{metric}_ci_low": ci.low,
            f"{metric}_ci_high": ci.high,
            f"{metric}_ci_coverage": ci.coverage,
            f"{metric}_n": ci.n,
        }
    return out


def _summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_group_key(row), []).append(row)
    out = []
    for (phase, kind, setting, method, lr), members in groups.items():
        row = {
            "phase": phase,
            "kind": kind,
            "setting": setting,
            "method": method,
            "lr": lr,
            "runs": len(members),
            "seeds": _join(sorted(r["seed"] for r in members)),
            "diverged": _diverged(members),
            "failed": _failed(members),
        }
        finished = [r for r in members if r["status"] in ("finished", "diverged")]
        out.append(row | _stats_columns(finished, kind))
    return out


def _join(values: Sequence[Any]) -> str:
    return " ".join("default" if v is None else f"{v:g}" for v in values)


def _protocol_rows(result: Plan, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    confirm = {}
    for row in rows:
        if row["phase"] == "confirm":
            confirm.setdefault((row["kind"], row["setting"], row["method"]), []).append(row)
    out = []
    for s in result.selections:
        members = confirm.get((s.kind, s.setting, s.method), [])
        out.append(_protocol_row(s, members) | _stats_columns(members, s.kind))
    return out


def _protocol_row(s: Selection, confirmed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    status = "chosen" if s.complete else f"waiting: {s.missing} tuning runs not stored"
    if s.complete and s.none_viable:
        status = "none: every step size diverged or failed on a tuning seed"
    scores = "; ".join(
        f"{_join([lr])}: " + ", ".join(f"{v:g}" for v in score)
        for lr, score in zip(s.grid, s.scores, strict=True)
    )
    return {
        "kind": s.kind,
        "setting": s.setting,
        "method": s.method,
        "tuned": "lr" if len(s.grid) > 1 else "nothing (one step size)",
        "grid": _join(s.grid),
        "tune_seeds": _join(s.tune_seeds),
        "criterion": s.criterion_text(),
        "tune_scores": scores,
        "status": status,
        "chosen_lr": s.chosen,
        "chosen_at_grid_edge": _at_edge(s),
        "confirm_runs": len(confirmed),
        "confirm_seeds": _join(sorted(r["seed"] for r in confirmed)),
        "diverged": _diverged(confirmed),
        "failed": _failed(confirmed),
    }


def _at_edge(s: Selection) -> str:
    """``yes`` when the choice is the smallest or largest step size tried: widen the grid."""
    tried = sorted(lr for lr in s.grid if lr is not None)
    if not s.complete or len(tried) < 2:
        return ""
    return "yes" if s.chosen in (tried[0], tried[-1]) else "no"


def _csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


# --------------------------------------------------------------------------- markdown


def _interval(row: Mapping[str, Any], metric: str) -> str:
    if f"{metric}_median" not in row:
        return "-"
    return (
        f"{row[f'{metric}_median']:.4g} [{row[f'{metric}_ci_low']:.4g}, "
        f"{row[f'{metric}_ci_high']:.4g}]"
    )


def _chosen_cell(row: Mapping[str, Any]) -> str:
    if row["status"] != "chosen":
        return row["status"]
    edge = " (grid edge)" if row["chosen_at_grid_edge"] == "yes" else ""
    return _join([row["chosen_lr"]]) + edge


def _md_table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]


def _metrics_of(rows: Sequence[Mapping[str, Any]], kind: str) -> list[str]:
    return [m for m in HEADLINE[kind] if any(f"{m}_median" in r for r in rows)]


def _markdown(
    spec: SweepSpec, summary: Sequence[dict], protocol: Sequence[dict], rows, planned: int
) -> str:
    lost = sum(r["status"] == "lost" for r in rows)
    stored = len(rows) - lost
    lines = [
        "# Sweep summary",
        "",
        f"Mode {spec.mode}; {stored} of {planned} planned runs stored"
        + (f", {lost} lost with their worker (a rerun computes them)" if lost else "")
        + f"; {_diverged(rows)} diverged, {sum(r['status'] == 'failed' for r in rows)} failed "
        "(runs.csv gives each one's status, step reached and reason; the medians are over "
        "the runs with outputs, and tuning never chooses a step size with a diverged or "
        "failed run). Each cell: median over "
        f"seeds [interval for the median, coverage at least {CONFIDENCE:.0%} where the number "
        "of seeds allows it: see summary.csv for the exact coverage].",
    ]
    for kind in (s.kind for s in spec.sections):
        lines += _kind_markdown(
            kind,
            [r for r in summary if r["kind"] == kind],
            [r for r in protocol if r["kind"] == kind],
        )
    return "\n".join(lines) + "\n"


def _kind_markdown(kind: str, summary: Sequence[dict], protocol: Sequence[dict]) -> list[str]:
    lines: list[str] = []
    if protocol:
        metrics = _metrics_of(protocol, kind)
        lines += ["", f"## {kind}: tuned, then confirmed", ""]
        header = [
            "setting",
            "method",
            "tuned",
            "grid",
            "tuning seeds",
            "criterion",
            "chosen lr",
            "confirmation seeds",
            "diverged",
            "failed",
            *metrics,
        ]
        body = [
            [
                r["setting"],
                r["method"],
                r["tuned"],
                r["grid"],
                r["tune_seeds"],
                r["criterion"],
                _chosen_cell(r),
                r["confirm_seeds"] or "-",
                r["diverged"],
                r["failed"],
                *(_interval(r, m) for m in metrics),
            ]
            for r in protocol
        ]
        lines += _md_table(header, body)
    metrics = _metrics_of(summary, kind)
    lines += ["", f"## {kind}: every step size", ""]
    header = ["phase", "setting", "method", "lr", "runs", "diverged", "failed", *metrics]
    body = [
        [
            r["phase"],
            r["setting"],
            r["method"],
            _join([r["lr"]]),
            r["runs"],
            r["diverged"],
            r["failed"],
            *(_interval(r, m) for m in metrics),
        ]
        for r in summary
    ]
    return lines + _md_table(header, body)


# --------------------------------------------------------------------------- plots


def _plot_name(kind: str, setting: str, metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{kind}-{setting}-{metric}") + ".png"


def _plot_targets(summary: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    targets = []
    for kind, setting in dict.fromkeys((r["kind"], r["setting"]) for r in summary):
        rows = [r for r in summary if r["kind"] == kind and r["setting"] == setting]
        targets += [(kind, setting, m) for m in _metrics_of(rows, kind)]
    return targets


def _plot_one(rows: Sequence[Mapping[str, Any]], kind: str, setting: str, metric: str) -> Any:
    from hsc_ref._plotting import new_figure  # noqa: PLC0415  (optional extra)

    fig, ax = new_figure(size=(6.0, 4.0))
    drawn = [r for r in rows if r["lr"] is None or _drawable(r["lr"])]
    for method in dict.fromkeys(r["method"] for r in drawn):
        _plot_method(ax, [r for r in drawn if r["method"] == method], method, metric)
    ax.set_xscale("log")
    if len(drawn) < len(rows):
        low, high = LOG_AXIS_RANGE
        note = f"step sizes outside {low:g} to {high:g} not drawn (summary.md lists them)"
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=7, va="bottom")
    ax.set_xlabel("step size lr")
    ax.set_ylabel(f"{metric} (median, interval)")
    ax.set_title(f"{kind} {setting}: {metric}")
    ax.legend(fontsize=7)
    return fig


LOG_AXIS_RANGE = (1e-100, 1e100)
"""The step sizes a sweep plot draws on its log axis.

A grid that reaches where a method diverges may hold a step size near the largest float
(1e308): on such an axis matplotlib's margins and ticks overflow and none of the points
shows. Step sizes outside this range are left out of the plots, which say so.
"""


def _drawable(step_size: float) -> bool:
    return LOG_AXIS_RANGE[0] <= step_size <= LOG_AXIS_RANGE[1]


def _plot_method(ax: Any, rows: Sequence[Mapping[str, Any]], method: str, metric: str) -> None:
    from hsc_ref._plotting import method_colour  # noqa: PLC0415  (optional extra)

    colour = method_colour(method)
    rows = [r for r in rows if f"{metric}_median" in r]
    for phase, style in (("grid", "o-"), ("tune", "o-"), ("confirm", "*")):
        points = sorted(
            (r for r in rows if r["phase"] == phase and r["lr"] is not None), key=lambda r: r["lr"]
        )
        if points:
            x = [r["lr"] for r in points]
            y = np.array([r[f"{metric}_median"] for r in points])
            err = [
                y - [r[f"{metric}_ci_low"] for r in points],
                [r[f"{metric}_ci_high"] for r in points] - y,
            ]
            label = method if phase != "confirm" else f"{method} (confirmation)"
            ax.errorbar(
                x, y, yerr=err, fmt=style, capsize=3, label=label, markersize=8, color=colour
            )
    for r in rows:
        if r["lr"] is None:  # a method without a step size (L-BFGS-B): a band
            label = f"{method} ({r['phase']})"
            ax.axhline(r[f"{metric}_median"], ls="--", lw=1, label=label, color=colour)
            ax.axhspan(r[f"{metric}_ci_low"], r[f"{metric}_ci_high"], alpha=0.15, color=colour)


def _write_plots(folder: Path, summary: Sequence[Mapping[str, Any]]) -> list[Path]:
    from hsc_ref._plotting import save_figure  # noqa: PLC0415  (optional extra)

    targets = {_plot_name(*target) for target in _plot_targets(summary)}
    for stale in (folder / PLOTS_DIR).glob("*.png"):  # plots of settings no longer reported
        if stale.name not in targets:
            stale.unlink()
    written = []
    for kind, setting, metric in _plot_targets(summary):
        rows = [r for r in summary if r["kind"] == kind and r["setting"] == setting]
        fig = _plot_one(rows, kind, setting, metric)
        path = folder / PLOTS_DIR / _plot_name(kind, setting, metric)
        path.parent.mkdir(exist_ok=True)
        written.append(save_figure(fig, path, overwrite=True))
    return written


# --------------------------------------------------------------------------- the report


class ReportFiles(NamedTuple):
    """What :func:`write_report` wrote.

    Attributes
    ----------
    paths : tuple of Path
        Every file written, tables first.
    stored : int
        Planned runs found stored.
    planned : int
        Runs the spec plans (so far: confirmation runs are planned once tuning is complete).
    skipped_line : str or None
        One line naming the plots skipped for lack of matplotlib.
    lost : int
        Planned runs whose worker died (a rerun computes them).
    """

    paths: tuple[Path, ...]
    stored: int
    planned: int
    skipped_line: str | None
    lost: int = 0


def write_report(
    folder: str | os.PathLike, *, plots: bool = True, force: bool = False
) -> ReportFiles:
    """Rebuild the report of a sweep folder from its spec and its verified stored runs.

    Only runs that pass their check (:func:`load_stored`) are reported. A report that would
    hold fewer runs than the one in the folder (``runs.csv``) is refused with one line
    naming both counts and the first run folder that fails its check, unless ``force``.

    Parameters
    ----------
    folder : path
        A sweep folder (``spec.toml`` and ``runs/``).
    plots : bool
        Also write the plots (skipped, and named in one line, without matplotlib).
    force : bool
        Replace a report of more runs (``--force``).

    Returns
    -------
    ReportFiles
    """
    folder = Path(folder)
    spec, stored, problems, lost = _read_folder(folder)
    result = plan(spec, stored)
    rows = _run_rows(result, {**lost, **stored})
    before = _reported_runs(folder / "runs.csv")
    if before is not None and len(rows) < before and not force:
        bad = next(iter(problems.items()), None)
        why = "" if bad is None else f"; {len(problems)} run folders fail their check, e.g. "
        why += "" if bad is None else f"{bad[0]}: {bad[1]}"
        raise ValueError(
            f"the report in {folder} holds {before} runs and would be replaced by one of "
            f"{len(rows)} verified runs{why}; pass --force to replace it"
        )
    summary = _summary_rows(rows)
    protocol = _protocol_rows(result, rows) if spec.mode == "tune-confirm" else []
    planned = sum(len(runs) for _, runs in result.phases)
    tables = {"runs.csv": _csv_text(rows), "summary.csv": _csv_text(summary)}
    if protocol:
        tables["protocol.csv"] = _csv_text(protocol)
    tables["summary.md"] = _markdown(spec, summary, protocol, rows, planned)
    for name in set(REPORT_FILES) - set(tables):  # protocol.csv of an earlier tune-confirm spec
        (folder / name).unlink(missing_ok=True)
    paths = [
        _io.atomic_write_text(folder / name, text, overwrite=True) for name, text in tables.items()
    ]
    skipped = None
    if plots and _extras.installed("matplotlib"):
        paths += _write_plots(folder, summary)
    elif plots:
        skipped = _extras.skipped_line([_extras.Skipped(("plots/*.png",), "matplotlib")])
    lost_count = sum(r["status"] == "lost" for r in rows)
    return ReportFiles(tuple(paths), len(rows) - lost_count, planned, skipped, lost_count)


def _reported_runs(path: Path) -> int | None:
    """Runs in an existing ``runs.csv`` (its rows), or None when there is none."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return sum(1 for _ in csv.DictReader(handle))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is unreadable ({exc}); pass --force to rebuild it") from None
