"""Run a sweep on Dask distributed; store each finished run atomically; skip stored runs.

The sweep folder::

    spec.toml        the spec, as given (a rerun must give the same spec, or --force)
    runs/<key>/      one finished run: the files ``hsc-ref gan`` / ``hsc-ref style`` writes
                     (no plots), plus run.json (its options, command, phase, metrics, worker)
    runs.csv, summary.csv, protocol.csv, summary.md, plots/   the report (:mod:`.report`)

Each run executes on a Dask worker with one BLAS thread (:func:`execute_run`): it calls the
same library function as its command (:func:`hsc_ref.lab.gan_run.run_to_folder` or
:func:`hsc_ref.lab.style_run.run_to_folder`) into a temporary folder on the worker, and sends the
files back as bytes, so workers need no shared file system. The client writes them to
``runs/.partial-<key>/`` and renames that folder to ``runs/<key>/``: a run folder is complete
or absent, and a rerun (after a crash or Ctrl-C) skips every run whose folder exists.

By default the engine starts an embedded ``distributed.LocalCluster``: one single-threaded
worker process per core. ``scheduler=ADDRESS`` uses an existing cluster instead (``dask
scheduler`` and ``dask worker`` processes, see ``docs/experiments.md``). Dask sends the
tasks and their results between processes with pickle: use clusters you trust.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from hsc_ref import __version__, _extras, _io
from hsc_ref.lab import _threads
from hsc_ref.lab.sweep.protocol import Plan, plan
from hsc_ref.lab.sweep.report import (
    RUN_FILE,
    RUNS_DIR,
    SPEC_FILE,
    ReportFiles,
    load_stored,
    write_report,
)
from hsc_ref.lab.sweep.spec import RunSpec, SweepSpec, parse_spec, read_spec

__all__ = [
    "execute_run",
    "store_run",
    "prepare_folder",
    "dask_client",
    "SweepResult",
    "run_sweep",
]

_INSTALL = "pip install 'hsc-ref[sweep]'"

CONNECT_TIMEOUT = 20
"""Seconds to wait for an existing Dask scheduler to answer."""


def _compute(run: RunSpec, out: Path) -> None:
    """What the run's command computes, written to ``out`` (no plots, no progress bar)."""
    if run.kind == "gan":
        from hsc_ref.gan.train import TrainConfig  # noqa: PLC0415
        from hsc_ref.lab.gan_run import run_to_folder  # noqa: PLC0415  (light import)

        run_to_folder(TrainConfig(**run.config), out, plots=False, progress=False)
        return
    from hsc_ref.lab.style_run import run_to_folder as style_to_folder  # noqa: PLC0415

    style_to_folder(out, plots=False, progress=False, **run.config)


def _worker_name() -> str:
    try:
        from distributed import get_worker  # noqa: PLC0415  (optional extra)

        return str(get_worker().address)
    except (ImportError, ValueError):  # not inside a Dask worker
        return f"{socket.gethostname()}:{os.getpid()}"


def execute_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """Compute one run (:meth:`RunSpec.to_json` form) on one BLAS thread; return its files.

    Parameters
    ----------
    run : mapping
        ``{"kind": ..., "options": {...}}``.

    Returns
    -------
    dict
        ``files`` (file name to bytes, as the command wrote them), ``blas_threads`` (threads
        of each BLAS pool during the run), ``wall_s``, ``worker`` and ``hsc_ref_version``.

    Examples
    --------
    >>> from hsc_ref.lab.sweep.spec import RunSpec
    >>> run = RunSpec.build("gan", {"data": "dirac", "method": "hsc", "steps": 2, "lr": 1.0})
    >>> files = execute_run(run.to_json())["files"]
    >>> {"metrics.json", "history.npz", "samples.npz", "matrices.npz"} <= set(files)
    True
    """
    spec = RunSpec.from_json(run)
    start = time.perf_counter()
    with _threads.limited(1), tempfile.TemporaryDirectory(prefix="hsc-ref-run-") as tmp:
        blas_threads = _threads.blas_thread_counts()
        _compute(spec, Path(tmp))
        files = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}
    return {
        "files": files,
        "blas_threads": blas_threads,
        "wall_s": time.perf_counter() - start,
        "worker": _worker_name(),
        "hsc_ref_version": __version__,
    }


def _summary_metrics(kind: str, metrics_json: bytes) -> dict[str, Any]:
    """The scalar metrics of a run, read from its ``metrics.json``."""
    data = json.loads(metrics_json)
    if kind == "gan":
        return dict(data["metrics"])
    out = {k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out["time_s"] = data["times_s"][-1]
    out["steps_completed"] = len(data["losses"]) - 1
    return out


def store_run(
    folder: str | os.PathLike, run: RunSpec, payload: Mapping[str, Any], phase: str
) -> Path:
    """Write a finished run to ``folder/runs/<key>/`` atomically (a complete folder or none).

    Parameters
    ----------
    folder : path
        The sweep folder.
    run : RunSpec
    payload : mapping
        What :func:`execute_run` returned.
    phase : str
        ``"grid"``, ``"tune"`` or ``"confirm"`` (recorded in ``run.json``).

    Returns
    -------
    Path
        The run's folder.
    """
    if payload.get("hsc_ref_version") != __version__:
        raise RuntimeError(
            f"worker {payload.get('worker')} runs hsc_ref {payload.get('hsc_ref_version')}, "
            f"this client {__version__}: install the same version on every worker"
        )
    runs = Path(folder) / RUNS_DIR
    final, partial = runs / run.key, runs / f".partial-{run.key}"
    shutil.rmtree(partial, ignore_errors=True)  # a run interrupted while being written
    partial.mkdir(parents=True)
    for name, data in payload["files"].items():
        if Path(name).name != name or name == RUN_FILE:
            raise RuntimeError(f"a run returned the unexpected file name {name!r}")
        _io.atomic_write_bytes(partial / name, data)
    record = {
        "key": run.key,
        "phase": phase,
        "setting": run.setting,
        "method": run.method,
        "lr": run.lr,
        "seed": run.seed,
        "run": run.to_json(),
        "command": run.command(str(final)),
        "metrics": _summary_metrics(run.kind, payload["files"]["metrics.json"]),
        "wall_s": payload["wall_s"],
        "worker": payload["worker"],
        "blas_threads": payload["blas_threads"],
        "hsc_ref_version": payload["hsc_ref_version"],
    }
    _io.atomic_write_json(partial / RUN_FILE, record)
    os.rename(partial, final)  # atomic on one file system; fails if final exists
    return final


def prepare_folder(folder: str | os.PathLike, spec: SweepSpec, *, overwrite: bool = False) -> Path:
    """Create the sweep folder with ``spec.toml``, or check that it holds the same spec.

    A folder that holds another spec is refused unless ``overwrite`` (then ``spec.toml`` is
    replaced; stored runs the new spec also plans are reused, the others left out of the
    report). Run folders left half-written by an interrupted sweep are removed.

    Parameters
    ----------
    folder : path
    spec : SweepSpec
    overwrite : bool

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out must be a folder, got the existing file {folder}")
    spec_file = folder / SPEC_FILE
    if spec_file.exists() and not overwrite:
        stored = parse_spec(spec_file.read_text(encoding="utf-8"))
        if stored != spec:
            raise FileExistsError(
                f"{folder} holds a sweep of another spec ({spec_file} differs); use another "
                "--out, or pass --force to replace the spec and reuse the runs both plan"
            )
    if not spec_file.exists() or overwrite:
        _io.atomic_write_text(spec_file, spec.text, overwrite=True)
    for partial in (folder / RUNS_DIR).glob(".partial-*"):
        shutil.rmtree(partial)
    return folder


def _check_run_folders(folder: Path, runs: Sequence[RunSpec], stored: Mapping[str, Any]) -> None:
    for run in runs:
        path = folder / RUNS_DIR / run.key
        if run.key not in stored and path.exists():
            raise ValueError(
                f"{path} exists but holds no valid {RUN_FILE}; remove it to rerun that run"
            )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415  (optional extra)
    except ImportError as exc:
        raise ImportError(f"hsc-ref sweep runs on Dask distributed: {_INSTALL}") from exc
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of an embedded ``LocalCluster``, or of ``scheduler``.

    The embedded cluster has ``workers`` (default: one per core) single-threaded worker
    processes; Dask's nannies start them with one OpenBLAS thread. It is closed on exit.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler; it must answer within :data:`CONNECT_TIMEOUT`.
    workers : int, optional
        Processes of the embedded cluster.

    Returns
    -------
    context manager
        Yields the connected client.
    """
    distributed = _distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError) as exc:
            raise OSError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc})") from exc
        with client:
            yield client
        return
    n = _cores() if workers is None else workers
    with (
        distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two sweeps never clash
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _bar(total: int, initial: int, desc: str, show: bool) -> Any | None:
    if not show:
        return None
    if not _extras.installed("tqdm"):
        print(f"({_extras.install_hint('tqdm')} for a progress bar)", flush=True)
        return None
    from tqdm import tqdm  # noqa: PLC0415  (optional extra)

    return tqdm(total=total, initial=initial, desc=desc, unit="run")


def _execute(
    client: Any,
    todo: Sequence[RunSpec],
    phase: str,
    folder: Path,
    *,
    bar: Any | None,
    on_stored: Callable[[Path], None] | None,
) -> int:
    """Submit ``todo`` and store each run as it finishes; cancel the rest on any error."""
    distributed = _distributed()
    futures = {
        client.submit(execute_run, run.to_json(), key=f"hsc-ref-{run.key}", pure=False): run
        for run in todo
    }
    done = 0
    try:
        for future in distributed.as_completed(futures):
            path = store_run(folder, futures[future], future.result(), phase)
            done += 1
            if bar is not None:
                bar.update(1)
            if on_stored is not None:
                on_stored(path)
    except BaseException:
        client.cancel(list(futures))
        raise
    return done


class SweepResult(NamedTuple):
    """What :func:`run_sweep` did.

    Attributes
    ----------
    folder : Path
    planned : int
        Runs the spec plans (tuning and confirmation runs in tune-confirm mode).
    executed : int
        Runs computed by this call.
    skipped : int
        Planned runs found stored and not computed again.
    wall_s : float
        Seconds from start to the report written.
    report : ReportFiles
        The report's files.
    """

    folder: Path
    planned: int
    executed: int
    skipped: int
    wall_s: float
    report: ReportFiles


def run_sweep(
    spec: SweepSpec | str | os.PathLike,
    out: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    plots: bool = True,
    overwrite: bool = False,
    on_stored: Callable[[Path], None] | None = None,
) -> SweepResult:
    """Run every planned run not yet stored, then write the report; what ``hsc-ref sweep`` runs.

    Parameters
    ----------
    spec : SweepSpec or path
        The spec, or its TOML file.
    out : path
        The sweep folder (created if missing; a rerun resumes it).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); default: an embedded
        ``LocalCluster``.
    workers : int, optional
        Worker processes of the embedded cluster (default: one per core).
    progress : bool
        Show a progress bar over runs (tqdm, extra ``progress``).
    plots : bool
        Also write the report's plots (matplotlib, extra ``plot``).
    overwrite : bool
        Replace a different ``spec.toml`` in ``out`` (stored runs both specs plan are kept).
    on_stored : callable, optional
        Called with each run folder as it is stored.

    Returns
    -------
    SweepResult

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, after cancelling the runs in flight; its message says how many runs are
        stored and that rerunning resumes.
    """
    start = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else read_spec(spec)
    if workers is not None and (
        isinstance(workers, bool) or int(workers) != workers or workers < 1
    ):
        raise ValueError(f"--workers must be a positive integer, got {workers!r}")
    folder = prepare_folder(out, spec, overwrite=overwrite)
    executed, skipped = 0, 0
    try:
        with contextlib.ExitStack() as stack:
            client = None
            for phase in _phase_names(spec):
                stored = load_stored(folder)
                current = dict(plan(spec, stored).phases)[phase]
                _check_run_folders(folder, current, stored)
                todo = [run for run in current if run.key not in stored]
                skipped += len(current) - len(todo)
                if not todo:
                    continue
                if client is None:
                    client = stack.enter_context(dask_client(scheduler, workers))
                bar = _bar(len(current), len(current) - len(todo), phase, progress)
                with bar if bar is not None else contextlib.nullcontext():
                    executed += _execute(client, todo, phase, folder, bar=bar, on_stored=on_stored)
    except KeyboardInterrupt:
        stored_now = len(load_stored(folder))
        raise KeyboardInterrupt(
            f"interrupted; {stored_now} runs are stored under {folder / RUNS_DIR}: rerun the "
            "same command to resume"
        ) from None
    report = write_report(folder, plots=plots)
    total = _planned_total(spec, load_stored(folder))
    return SweepResult(folder, total, executed, skipped, time.perf_counter() - start, report)


def _phase_names(spec: SweepSpec) -> tuple[str, ...]:
    return ("grid",) if spec.mode == "grid" else ("tune", "confirm")


def _planned_total(spec: SweepSpec, stored: Mapping[str, Any]) -> int:
    result: Plan = plan(spec, stored)
    return sum(len(runs) for _, runs in result.phases)
