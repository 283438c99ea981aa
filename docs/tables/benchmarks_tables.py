"""The measured tables of ``docs/benchmarks.md``: the speed targets and the routes' speeds.

Both are rendered from the committed results of ``benchmarks/run.py`` in
``benchmarks/results/`` through ``benchmarks/targets.py`` (its targets table and its ratio of
two medians of one run). The headline comes from the runs ``targets-3`` and its rerun
``targets-4``; the routes table too, but for its last row: plain ``autograd.hessian`` is no
longer timed by ``run.py``, so that row comes from the four earlier runs
``20261127-hessian-{default,keep}-alloc-{1,2}`` that timed it. The GAN methods' table
comes from ``quiet-gan-steps``, the HSC step against the peers from ``steps-6`` and the cost
of the checks at n = 10 from ``steps-7-n10-1thread``.

The tables are timings only: no quick version can recheck them. The quick benchmark that
``tests/test_benchmarks.py`` reruns (``run.py --quick``) checks that the timed methods run and
agree with each other.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from types import ModuleType
from typing import Any

from tables import ROOT, Table

RESULTS = "benchmarks/results"
RUNS = ("targets-3", "targets-4")
EARLIER_RUNS = tuple(
    f"20261127-hessian-{allocator}-alloc-{k}" for allocator in ("default", "keep") for k in (1, 2)
)
COMMAND = " && ".join(f"python benchmarks/run.py --name {name}" for name in RUNS)
RERUN_BY = "tests/test_benchmarks.py::test_quick_benchmark_runs_and_its_methods_agree"

PACKAGE = "hsc_ref.hessian, package tanh"
"""``benchmarks/bench_hessian.py``'s generic batched route on the package's loss."""
STYLE_EXACT = "hsc_ref exact (style, by hand)"
STYLE_AUTOGRAD = "hsc_ref.hessian (autograd, batched)"
EARLIER_BATCHED = "hsc_ref.hessian (batched)"
EARLIER_PLAIN = "autograd.hessian"
"""The method names of the earlier runs (an older ``run.py``)."""


@contextlib.contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """``folder`` first on ``sys.path`` for one import (benchmarks/ and tests/ both have a
    ``problems.py``, so it does not stay there)."""
    sys.path.insert(0, str(ROOT / folder))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT / folder))


@cache
def _targets() -> ModuleType:
    """``benchmarks/targets.py``."""
    with _on_path("benchmarks"):
        return importlib.import_module("targets")


def _result(name: str) -> dict[str, Any]:
    return json.loads((ROOT / RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def _records(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{RESULTS}/{name}.json" for name in names)


def render_targets() -> str:
    """The speed targets over the run and its rerun: ``targets.py``'s rerun table."""
    return _targets().rerun_table([_result(name) for name in RUNS])


def _ratios(
    names: tuple[str, ...], section: str, method: str, peer: str, sizes: Sequence[int]
) -> list[float]:
    """``median(method) / median(peer)`` in every run named and at every size given."""
    targets = _targets()
    ratios = [
        targets._ratio(_result(name), targets.Target("", section, n, method, peer, None))
        for name in names
        for n in sizes
    ]
    if None in ratios:
        raise ValueError(f"{method!r} or {peer!r} is not measured in every run of {names}")
    return ratios


def _sizes(section: str) -> list[int]:
    """The sizes n of a section in the first run (every run has the same)."""
    return sorted({r["n"] for r in _result(RUNS[0])[section] if "median_s" in r})


def _two_digits(x: float) -> str:
    return f"{x:#.2g}".rstrip(".") if x < 10 else f"{x:.0f}"


def _span(ratios: list[float]) -> str:
    """``lowx to highx``, two significant digits."""
    return f"{_two_digits(min(ratios))}x to {_two_digits(max(ratios))}x"


def _style_cell() -> str:
    cells = []
    for n in _sizes("style"):
        side = next(r["side"] for r in _result(RUNS[0])["style"] if r["n"] == n)
        ratios = _ratios(RUNS, "style", STYLE_EXACT, STYLE_AUTOGRAD, [n])
        cells.append(f"{_span(ratios)} at {side}x{side} (n = {n})")
    return ", ".join(cells)


def _plain_cell() -> str:
    large, small = (
        _span(_ratios(EARLIER_RUNS, "hessian", EARLIER_PLAIN, EARLIER_BATCHED, [n]))
        for n in (3962, 249)
    )
    return f"{large} at n = 3962 and {small} at n = 249 (runs `20261127-hessian-*`, below)"


def render_routes() -> str:
    """Each route's time against autograd's batched route on the same loss, over both runs."""
    targets, sizes = _targets(), _sizes("hessian")
    mlp = _span(_ratios(RUNS, "hessian", targets.EXACT, PACKAGE, sizes))
    user = _span(_ratios(RUNS, "hessian", targets.USER, PACKAGE, sizes))
    rows = [
        (
            "an MLP GAN of `hsc_ref.gan.game` (players from `hsc_ref.models.mlp`)",
            'hand-derived, chosen automatically (`route="auto"`; the GAN trainer too)',
            f"{mlp} (n = {sizes[0]} to {sizes[-1]})",
        ),
        (
            "the style objective `hsc_ref.style.loss.transfer_objective` (pixel Hessian)",
            "hand-derived (`hsc_ref.style._exact`; the image optimizer takes it)",
            _style_cell(),
        ),
        (
            "your own batch-polymorphic autograd loss with the package's tanh (`hsc_ref.models`)",
            "`hsc_ref.hessian` (batched)",
            "1",
        ),
        (
            "the same loss written with `autograd.numpy.tanh`",
            "`hsc_ref.hessian` (batched)",
            f"{user} (autograd's tanh rule is costlier twice differentiated)",
        ),
        (
            "a loss that is not batch-polymorphic",
            "`hsc_ref.hessian` (plain, one pass per row)",
            _plain_cell(),
        ),
    ]
    head = [
        "| your loss | route | time against autograd's batched route |",
        "|---|---|---|",
    ]
    return "\n".join(head + ["| " + " | ".join(row) + " |" for row in rows])


QUIET_RUN = "quiet-gan-steps"
QUIET_COMMAND = (
    "python benchmarks/run.py --sections gan steps --step-sizes 2000 --name quiet-gan-steps"
)
STEP_ORDER = 2000
HSC_AUTO = "hsc_ref auto"
EIGH_PEERS = (
    "numpy eigh (syevd) step",
    "scipy eigh evd step",
    "torch eigh step",
    "jax eigh step (jit)",
)
"""The peers' eigh steps (eigh, then ``Q (phi(lam) * (Q^T g))``) of ``bench_steps.py``."""


def _load(record: dict[str, Any]) -> str:
    """The 1-minute load average before and after a run, and whether it stayed quiet."""
    before, after = record["load_before"][0], record["load_after"][0]
    cores = record["machine"]["logical_cpus"]
    state = "quiet" if max(before, after) <= cores else "loaded (load above the core count)"
    return f"{before:.2f} before, {after:.2f} after, {cores} cores: {state}"


def _with_load(lines: list[str], record: dict[str, Any]) -> str:
    """A table's lines followed by the load line of the run it comes from."""
    return "\n".join([*lines, "", f"Load average (1 min): {_load(record)}."])


def render_game_methods() -> str:
    """Per-step wall time of each GAN method against Adam's, from the quiet run."""
    record = _result(QUIET_RUN)
    rows = [
        f"| {r['method']} | {1e3 * r['median_s']:.3g} | {r['vs_adam']:.3g}x |"
        for r in record["gan"]
        if "median_s" in r
    ]
    head = [
        "| method (ring, 200 steps, BLAS 1 thread) | median ms/step | vs adam |",
        "|---|---|---|",
    ]
    return _with_load(head + rows, record)


STEPS_RUN = "steps-6"
STEPS_COMMAND = (
    "python benchmarks/run.py --sections steps --step-sizes 10 2000 --literal-max 100 "
    "--name steps-6"
)
COST_RUN = "steps-7-n10-1thread"
COST_COMMAND = (
    "python benchmarks/run.py --sections steps --step-sizes 10 --threads 1 --repeats 15 "
    "--no-peers --name steps-7-n10-1thread"
)
COST_ORDER = 10
BARE_STEP = "numpy eigh (syevd) step"
COST_METHODS = (
    ("hsc_step (spectral route)", "hsc_ref spectral"),
    ("a rule's step (newton_type hsc)", "hsc_ref rule step (newton_type hsc)"),
    ("the bare formula: numpy eigh, then Q (phi * (Q^T g))", BARE_STEP),
)


def render_hsc_step_peers() -> str:
    """The HSC step (``route="auto"``) against each peer's eigh step at n = 2000."""
    record = _result(STEPS_RUN)
    by_method = {r["method"]: r for r in record["steps"] if r.get("n") == STEP_ORDER}
    auto = by_method[HSC_AUTO]["median_s"]
    rows = [f"| hsc_step, route auto | {auto:.3g} | 1x |"]
    for name in EIGH_PEERS:
        if "median_s" in by_method.get(name, {}):
            median = by_method[name]["median_s"]
            rows.append(f"| {name} | {median:.3g} | {median / auto:.3g}x |")
    head = [
        f"| n = {STEP_ORDER}, 2 BLAS threads | median s | time / hsc_step auto |",
        "|---|---|---|",
    ]
    return _with_load(head + rows, record)


def render_step_costs() -> str:
    """What the checks cost at n = 10: hsc_step and a rule's step against the bare formula."""
    record = _result(COST_RUN)
    by_method = {r["method"]: r for r in record["steps"] if r.get("n") == COST_ORDER}
    bare = by_method[BARE_STEP]
    rows = []
    for label, method in COST_METHODS:
        r = by_method[method]
        rows.append(
            f"| {label} | {1e6 * r['median_s']:.3g} | {1e6 * r['min_s']:.3g} | "
            f"{r['median_s'] / bare['median_s']:.3g}x | {r['min_s'] / bare['min_s']:.3g}x |"
        )
    head = [
        f"| n = {COST_ORDER}, 1 BLAS thread, {by_method[BARE_STEP]['calls_per_sample']} calls "
        "per sample | median us | min us | median / bare | min / bare |",
        "|---|---|---|---|---|",
    ]
    return _with_load(head + rows, record)


TABLES = [
    Table(
        id="benchmarks-targets",
        page="docs/benchmarks.md",
        command=COMMAND,
        record=_records(RUNS),
        render=render_targets,
        rerun_by=RERUN_BY,
    ),
    Table(
        id="benchmarks-routes",
        page="docs/benchmarks.md",
        command=COMMAND,
        record=_records(RUNS + EARLIER_RUNS),
        render=render_routes,
        rerun_by=RERUN_BY,
    ),
    *(
        Table(
            id=table_id,
            page="docs/benchmarks.md",
            command=command,
            record=_records((run,)),
            render=render,
            rerun_by=RERUN_BY,
        )
        for table_id, command, run, render in (
            ("benchmarks-game-methods", QUIET_COMMAND, QUIET_RUN, render_game_methods),
            ("benchmarks-hsc-step-peers", STEPS_COMMAND, STEPS_RUN, render_hsc_step_peers),
            ("benchmarks-step-costs", COST_COMMAND, COST_RUN, render_step_costs),
        )
    ),
]
