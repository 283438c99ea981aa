"""The measured tables of ``docs/experiments.md``, section "Threads": BLAS threads per command.

Both tables are timings, rendered with a sentence that states what the record says (the
ratios, the target judged, the load averages), so that the page follows its record when the
commands are rerun on another machine:

``threads``     ``benchmarks/threads.py``: ``hsc-ref gan`` with ``--blas-threads default``
                and ``auto``, alone and beside a two-thread BLAS load;
``blas-sizes``  ``benchmarks/blas_sizes.py``: ``eigh`` plus a product on one and on two
                BLAS threads against the matrix order ("Why 1500").

Timings cannot be rechecked by a test. The quick versions run the same scripts with tiny
settings and keep what is deterministic: the rows, the number of runs and their exit
statuses, the repetition counts, the fields of the record.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tables import ROOT, Table

from hsc_ref.lab._threads import SMALL_N

__all__ = [
    "TARGET",
    "render_threads",
    "render_blas_sizes",
    "quick_threads",
    "quick_blas_sizes",
    "TABLES",
]

RECORDS = "docs/tables/records"
TARGET = 1.5
"""The target: beside a competing load, at most 1.5 times the time alone."""
SETTING_LABELS = {"default": "`default` (before)", "auto": "`auto` (now)"}
BESIDE_LABELS = {"alone": "no added load", "load": "+ two-thread BLAS load"}
QUICK_TIMEOUT_S = 120


def _load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / RECORDS / name).read_text(encoding="utf-8"))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _range(values: Sequence[float], digits: int = 2) -> str:
    if not values:
        return "—"
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low} to {high}"


def _median_range(values: Sequence[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} s [{min(values):.2f}, {max(values):.2f}]"


def _measured_at(record: dict[str, Any]) -> str:
    machine, code = record["machine"], record["code"]
    commit = (code["git_commit"] or "unknown")[:7]
    changed = len(code["uncommitted_in_hsc_ref"])
    edits = f" with {changed} uncommitted file(s) in hsc_ref/" if changed else ""
    if record["code_changed_during_measurement"]:
        edits += " (hsc_ref/ changed while it ran)"
    return (
        f"Measured at commit {commit}{edits} on {record['started'][:10]}, "
        f"{machine['cores']} cores ({machine['cpu_model']})"
    )


# ------------------------------------------------------------------------- threads


def _groups(record: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    options = record["options"]
    groups = {(s, b): [] for s in options["settings"] for b in options["beside"]}
    for run in record["runs"]:
        groups[run["threads"], run["beside"]].append(run)
    return groups


def _succeeded(runs: Sequence[dict[str, Any]], field: str) -> list[float]:
    return [run[field] for run in runs if run["exit_status"] == 0]


def _median(runs: Sequence[dict[str, Any]], field: str) -> float | None:
    values = _succeeded(runs, field)
    return statistics.median(values) if values else None


def _ratio(groups: dict[tuple[str, str], list[dict[str, Any]]], setting: str) -> float | None:
    """Median wall time beside the load over the median alone, for one setting."""
    alone = _median(groups.get((setting, "alone"), []), "wall_s")
    loaded = _median(groups.get((setting, "load"), []), "wall_s")
    return loaded / alone if alone and loaded else None


def _threads_row(groups: dict[tuple[str, str], list[dict[str, Any]]], key: tuple[str, str]) -> str:
    runs = groups[key]
    ratio = _ratio(groups, key[0]) if key[1] == "load" else None
    ok = sum(run["exit_status"] == 0 for run in runs)
    return _row(
        [
            SETTING_LABELS[key[0]],
            BESIDE_LABELS[key[1]],
            f"{len(runs)} ({ok})",
            _median_range(_succeeded(runs, "wall_s")),
            _median_range(_succeeded(runs, "user_s")),
            _range([run["load_average_before"][0] for run in runs], 1),
            "" if ratio is None else f"{ratio:.2f}x",
        ]
    )


def _target_sentence(groups: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    auto, default = _ratio(groups, "auto"), _ratio(groups, "default")
    if auto is None:
        return ""
    verdict = "met" if auto <= TARGET else f"missed, at {auto / TARGET:.2f} times the limit"
    text = (
        f" Beside the added load, `auto` took {auto:.2f}x its median time alone: the target of "
        f"at most {TARGET}x is {verdict}."
    )
    if default is None:
        return text
    loaded = [
        _median(groups[s, "load"], f) for s in ("auto", "default") for f in ("wall_s", "user_s")
    ]
    return text + (
        f" `default` took {default:.2f}x; beside the load `auto` ran "
        f"{loaded[2] / loaded[0]:.1f} times as fast as `default`, with a median CPU time of "
        f"{loaded[1]:.2f} s against {loaded[3]:.2f} s."
    )


def _threads_summary(
    record: dict[str, Any], groups: dict[tuple[str, str], list[dict[str, Any]]]
) -> str:
    options = record["options"]
    loads = [run["load_average_before"][0] for run in record["runs"]]
    return (
        f"{_measured_at(record)}; runs per row: {options['repeats']}, of {options['steps']} "
        f"steps each, after {options['warmups']} untimed run(s). The load average (1 min) "
        f'before the runs was {_range(loads, 1)}, so "no added load" means beside that '
        "background." + _target_sentence(groups)
    )


def render_threads(record: dict[str, Any] | None = None) -> str:
    """The ``--blas-threads`` table and its summary, from ``records/threads.json``."""
    record = _load("threads.json") if record is None else record
    groups = _groups(record)
    lines = [
        _row(
            [
                "`--blas-threads`",
                "beside",
                "runs (exit status 0)",
                "wall time, median [range]",
                "CPU time (user), median [range]",
                "load average before",
                "load / alone",
            ]
        ),
        "|---|---|---|---|---|---|---|",
        *(_threads_row(groups, key) for key in groups),
    ]
    return "\n".join([*lines, "", _threads_summary(record, groups)])


# ----------------------------------------------------------------------- blas sizes


def _by_order(record: dict[str, Any]) -> dict[int, dict[int, dict[str, Any]]]:
    orders: dict[int, dict[int, dict[str, Any]]] = {}
    for timing in record["timings"]:
        orders.setdefault(timing["n"], {})[timing["threads"]] = timing
    return orders


def _blas_row(n: int, timings: dict[int, dict[str, Any]]) -> str:
    one, two = timings[1]["best_s"], timings[2]["best_s"]
    load = timings[1]["load_average_before"][0]
    return _row([str(n), f"{one:.3g} s", f"{two:.3g} s", f"{one / two:.2g}", f"{load:.1f}"])


def _names(orders: Sequence[int]) -> str:
    """``100, 300 and 768``."""
    words = [str(n) for n in orders]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def _one_thread_wins(timings: dict[int, dict[str, Any]]) -> bool:
    return timings[1]["best_s"] < timings[2]["best_s"]


def _winners_sentence(orders: dict[int, dict[int, dict[str, Any]]]) -> str:
    faster = [n for n, timings in orders.items() if _one_thread_wins(timings)]
    slower = [n for n in orders if n not in faster]
    if not slower or not faster:
        return f"One thread was {'faster' if faster else 'slower'} at every order measured."
    return f"One thread was faster at n = {_names(faster)}, and slower at n = {_names(slower)}."


def _limit_sentence(orders: dict[int, dict[int, dict[str, Any]]]) -> str:
    limit = f"`auto`'s limit, {SMALL_N} rows (`hsc_ref.lab._threads.SMALL_N`),"
    lost = [n for n, t in orders.items() if n <= SMALL_N and not _one_thread_wins(t)]
    won = [n for n, t in orders.items() if n > SMALL_N and _one_thread_wins(t)]
    if lost or won:
        wrong = [f"two threads won at n = {_names(lost)}"] if lost else []
        wrong += [f"one thread won at n = {_names(won)}"] if won else []
        return f" {limit} does not match this record: {'; '.join(wrong)}."
    if all(n <= SMALL_N for n in orders) or all(n > SMALL_N for n in orders):
        side = "above" if all(n <= SMALL_N for n in orders) else "up to"
        return f" {limit} is not tested by this record: no order {side} it was measured."
    return (
        f" {limit} agrees with this record: one thread won at every order measured up to it, "
        "and lost at every order above it."
    )


def _threads_note(record: dict[str, Any]) -> str:
    off = [
        f"n = {t['n']}, {t['threads']} asked, {t['threads_in_effect']} given"
        for t in record["timings"]
        if any(given != t["threads"] for given in t["threads_in_effect"])
    ]
    return f" The pools did not take the threads asked: {'; '.join(off)}." if off else ""


def render_blas_sizes(record: dict[str, Any] | None = None) -> str:
    """The "Why 1500" table and its summary, from ``records/blas-sizes.json``."""
    record = _load("blas-sizes.json") if record is None else record
    orders = _by_order(record)
    lines = [
        "| n | 1 thread | 2 threads | 1 thread / 2 threads | load average before |",
        "|---|---|---|---|---|",
        *(_blas_row(n, timings) for n, timings in orders.items()),
    ]
    summary = (
        f"{_measured_at(record)}; best of {record['options']['samples']} samples per cell. "
        + _winners_sentence(orders)
        + _limit_sentence(orders)
        + _threads_note(record)
    )
    return "\n".join([*lines, "", summary])


# ------------------------------------------------------------------------ quick versions


def _run_script(script: str, *arguments: str) -> dict[str, Any]:
    """Run ``benchmarks/SCRIPT`` with ``arguments`` into a temporary record; the record."""
    with tempfile.TemporaryDirectory(prefix="hsc-quick-") as folder:
        record = Path(folder) / "record.json"
        command = [sys.executable, str(ROOT / "benchmarks" / script), *arguments]
        done = subprocess.run(
            [*command, "--record", str(record)],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr[-2000:]}")
        return json.loads(record.read_text(encoding="utf-8"))


def _cells(table: str, columns: Sequence[int]) -> list[list[str]]:
    rows = [line.split("|")[1:-1] for line in table.partition("\n\n")[0].splitlines()[2:]]
    return [[row[i].strip() for i in columns] for row in rows]


def quick_threads() -> dict[str, Any]:
    """One ``auto`` run of 2 steps, alone: its row's labels, run count and exit status."""
    record = _run_script(
        "threads.py",
        *("--repeats", "1", "--steps", "2", "--warmups", "0"),
        *("--settings", "auto", "--beside", "alone"),
    )
    return {
        "rows": _cells(render_threads(record), (0, 1, 2)),
        "exit_statuses": [run["exit_status"] for run in record["runs"]],
        "run_fields": sorted(record["runs"][0]),
        "measured": record["measured"],
    }


def quick_blas_sizes() -> dict[str, Any]:
    """Order 50 only, few repetitions: the rows, thread counts and repetition counts."""
    record = _run_script("blas_sizes.py", "--sizes", "50", "--work", "1e6")
    return {
        "rows": _cells(render_blas_sizes(record), (0,)),
        "timings": [
            [t["n"], t["threads"], t["repetitions"], len(t["samples_s"])] for t in record["timings"]
        ],
        "timing_fields": sorted(record["timings"][0]),
    }


def _blas_sizes_table(table_id: str, record_name: str) -> Table:
    """The "Why 1500" table of one record (quiet or busy machine); one quick version for both."""
    return Table(
        id=table_id,
        page="docs/experiments.md",
        command=f"python benchmarks/blas_sizes.py --record {RECORDS}/{record_name} --force",
        record=(f"{RECORDS}/{record_name}",),
        render=lambda: render_blas_sizes(_load(record_name)),
        quick=quick_blas_sizes,
    )


TABLES = [
    Table(
        id="threads",
        page="docs/experiments.md",
        command=f"python benchmarks/threads.py --record {RECORDS}/threads.json --force",
        record=(f"{RECORDS}/threads.json",),
        render=render_threads,
        quick=quick_threads,
    ),
    _blas_sizes_table("blas-sizes", "blas-sizes.json"),
    _blas_sizes_table("blas-sizes-busy", "blas-sizes-loaded.json"),
]
