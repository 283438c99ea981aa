"""Run a sweep on Dask distributed; store each finished run atomically; skip stored runs.

The sweep folder::

    spec.toml        the spec, as given (a rerun must give the same spec, or --force)
    runs/<key>/      one run: the files ``hsc-ref gan`` / ``hsc-ref style`` writes (no
                     plots), plus run.json (its options, command, phase, status, step
                     reached, reason, metrics, every file's size and SHA-256, worker)
    runs.csv, summary.csv, protocol.csv, summary.md, plots/   the report (:mod:`.report`)

Each run executes on a Dask worker with one BLAS thread (:func:`execute_run`): it calls the
same library function as its command (:func:`hsc_ref.lab._gan_run.run_to_folder` or
:func:`hsc_ref.lab._style_run.run_to_folder`) into a temporary folder on the worker, and sends the
files back as bytes, so workers need no shared file system. The client writes them to
``runs/.partial-<key>/`` and renames that folder to ``runs/<key>/``: a run folder is complete
or absent, and a rerun (after a crash or Ctrl-C) skips every stored run that passes its check
(:func:`~hsc_ref.lab.sweep._report.load_stored`).

A run that diverges, overflows or hits its own memory limit is a result: it is stored with
its status and reason and the sweep goes on; a run whose worker dies is recorded as lost and
computed again by a rerun. The folder is the sweep's own (:func:`check_sweep_folder`), held
by one writer at a time, and everything that can be refused (another spec, Dask missing, the
sizes of every run) is refused before it is written or a cluster starts.

By default the engine starts an embedded ``distributed.LocalCluster``: one single-threaded
worker process per core. ``scheduler=ADDRESS`` uses an existing cluster instead (``dask
scheduler`` and ``dask worker`` processes, see ``docs/experiments.md``). Dask sends the
tasks and their results between processes with pickle: use clusters you trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from hsc_ref import __version__, _extras, _io, _limits
from hsc_ref.lab import _outputs, _threads
from hsc_ref.lab.sweep._protocol import Plan, plan
from hsc_ref.lab.sweep._report import (
    PLOTS_DIR,
    REPORT_FILES,
    RUN_FILE,
    RUNS_DIR,
    SPEC_FILE,
    ReportFiles,
    load_stored,
    summary_metrics,
    write_report,
)
from hsc_ref.lab.sweep._spec import RunSpec, SpecError, SweepSpec, parse_spec, read_spec

__all__ = [
    "RUN_FAILURES",
    "WORKER_WAIT",
    "ClusterError",
    "execute_run",
    "run_outcome",
    "store_run",
    "store_lost",
    "check_sweep_folder",
    "check_run_sizes",
    "prepare_folder",
    "dask_client",
    "SweepResult",
    "run_sweep",
]

_INSTALL = "pip install 'hsc-ref[sweep]'"

CONNECT_TIMEOUT = 20
"""Seconds to wait for an existing Dask scheduler to answer."""

CONNECT_GRACE = 5
"""Seconds beyond :data:`CONNECT_TIMEOUT` before a server that accepted the connection and
never answered is given up (Dask's own timeout does not cover it)."""


def _compute(run: RunSpec, out: Path) -> None:
    """What the run's command computes, written to ``out`` (no plots, no progress bar)."""
    if run.kind == "gan":
        from hsc_ref.gan.train import TrainConfig  # noqa: PLC0415
        from hsc_ref.lab._gan_run import run_to_folder  # noqa: PLC0415  (light import)

        run_to_folder(TrainConfig(**run.config), out, plots=False, progress=False)
        return
    from hsc_ref.lab._style_run import run_to_folder as style_to_folder  # noqa: PLC0415

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
        ``status`` (``finished``, or ``failed`` when one of :data:`RUN_FAILURES` stopped the
        run), ``reason`` (the failure in one line, or None), ``steps_completed`` (the step a
        failed run reached; None when it finished or failed before its loop began),
        ``files`` (file name to bytes, as the command wrote them; none for a failed run),
        ``blas_threads`` (threads of each BLAS pool during the run), ``wall_s``, ``worker``
        and ``hsc_ref_version``.

    Examples
    --------
    >>> from hsc_ref.lab.sweep._spec import RunSpec
    >>> run = RunSpec.build("gan", {"data": "dirac", "method": "hsc", "steps": 2, "lr": 1.0})
    >>> files = execute_run(run.to_json())["files"]
    >>> {"metrics.json", "history.npz", "samples.npz", "matrices.npz"} <= set(files)
    True
    """
    spec = RunSpec.from_json(run)
    start = time.perf_counter()
    status, reason, reached = "finished", None, None
    with _threads.limited(1), tempfile.TemporaryDirectory(prefix="hsc-ref-run-") as tmp:
        blas_threads = _threads.blas_thread_counts()
        try:
            _compute(spec, Path(tmp) / "run")
            folder = Path(tmp) / "run"
            files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        except RUN_FAILURES as exc:  # the run's own limit or arithmetic: a result, not a crash
            status, reason, files = "failed", _one_line(exc), {}
            reached = getattr(exc, "steps_completed", None)  # set by the loop; None before it
    return {
        "status": status,
        "reason": reason,
        "steps_completed": reached,
        "files": files,
        "blas_threads": blas_threads,
        "wall_s": time.perf_counter() - start,
        "worker": _worker_name(),
        "hsc_ref_version": __version__,
    }


RUN_FAILURES = (FloatingPointError, OverflowError, MemoryError)
"""Exceptions that end one run as a stored failure (a non-finite value, an overflow, the
run's own memory limit) instead of stopping the sweep; any other exception is a bug in
hsc_ref and stops it (exit status 3, with its traceback)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def store_run(
    folder: str | os.PathLike,
    run: RunSpec,
    payload: Mapping[str, Any],
    phase: str,
    *,
    replace: bool = False,
) -> Path:
    """Write a finished (or failed) run to ``folder/runs/<key>/`` atomically.

    ``run.json`` records the run's status (:data:`~hsc_ref.lab.sweep._report.RUN_STATUSES`), the
    step it reached, the reason it failed or diverged, its metrics and every file's size and
    SHA-256, so that a reader can check the folder (:func:`~hsc_ref.lab.sweep._report.load_stored`).

    Parameters
    ----------
    folder : path
        The sweep folder.
    run : RunSpec
    payload : mapping
        What :func:`execute_run` returned.
    phase : str
        ``"grid"``, ``"tune"`` or ``"confirm"`` (recorded in ``run.json``).
    replace : bool
        Replace a run folder already there (one that failed its check, or a lost run).

    Returns
    -------
    Path
        The run's folder.
    """
    if payload.get("hsc_ref_version") != __version__:
        raise ClusterError(
            f"worker {payload.get('worker')} runs hsc_ref {payload.get('hsc_ref_version')}, "
            f"this client {__version__}: install the same version on every worker"
        )
    runs = Path(folder) / RUNS_DIR
    final, partial = runs / run.key, runs / f".partial-{run.key}"
    shutil.rmtree(partial, ignore_errors=True)  # a run interrupted while being written
    partial.mkdir(parents=True)
    files = dict(payload["files"])
    for name, data in files.items():
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
        **run_outcome(run, payload),
        "files": {name: _digest_bytes(data) for name, data in sorted(files.items())},
        "wall_s": payload["wall_s"],
        "worker": payload["worker"],
        "blas_threads": payload["blas_threads"],
        "hsc_ref_version": payload["hsc_ref_version"],
    }
    _io.atomic_write_json(partial / RUN_FILE, record)
    _put_in_place(partial, final, replace=replace)
    return final


def run_outcome(run: RunSpec, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``status``, ``steps_completed``, ``reason`` and ``metrics`` of a computed run.

    Parameters
    ----------
    run : RunSpec
    payload : mapping
        What :func:`execute_run` returned.

    Returns
    -------
    dict
        ``diverged`` when the run's metrics say so (``diverged_at``), the payload's status
        otherwise.
    """
    steps = run.config.get("steps")
    if payload.get("status", "finished") != "finished":
        return {
            "status": payload["status"],
            "steps_completed": payload.get("steps_completed"),  # the step a failed run reached
            "reason": payload.get("reason"),
            "metrics": {},
        }
    metrics = summary_metrics(run.kind, payload["files"]["metrics.json"])
    diverged = metrics.get("diverged_at")
    return {
        "status": "finished" if diverged is None else "diverged",
        "steps_completed": metrics.get("steps_completed", steps),
        "reason": None
        if diverged is None
        else f"a non-finite loss, gradient, Hessian or step at step {diverged}",
        "metrics": metrics,
    }


def store_lost(folder: str | os.PathLike, run: RunSpec, phase: str, reason: str) -> Path:
    """Record a run whose worker died (``status: lost``): reported, and retried by a rerun.

    Parameters
    ----------
    folder : path
        The sweep folder.
    run : RunSpec
    phase : str
    reason : str
        What happened to the worker.

    Returns
    -------
    Path
        The run's folder (its ``run.json`` only).
    """
    payload = {
        "status": "lost",
        "reason": reason,
        "files": {},
        "wall_s": None,
        "worker": None,
        "blas_threads": {},
        "hsc_ref_version": __version__,
    }
    return store_run(folder, run, payload, phase, replace=True)


def _digest_bytes(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _put_in_place(partial: Path, final: Path, *, replace: bool) -> None:
    """Rename ``partial`` to ``final`` (atomic on one file system); ``replace`` an old one."""
    if replace and final.exists():
        stale = final.with_name(f".stale-{final.name}")
        shutil.rmtree(stale, ignore_errors=True)
        os.rename(final, stale)
        os.rename(partial, final)
        shutil.rmtree(stale, ignore_errors=True)
        return
    os.rename(partial, final)  # fails if final exists


SWEEP_NAMES = frozenset({SPEC_FILE, RUNS_DIR, PLOTS_DIR, *REPORT_FILES})
"""What a sweep folder holds; a folder with anything else is not a sweep's and is refused."""


def check_sweep_folder(folder: str | os.PathLike) -> Path:
    """The absolute sweep folder, after refusing one that is not a sweep's own.

    ``--out`` must be new, empty, or a sweep folder (``spec.toml`` and only the names of
    :data:`SWEEP_NAMES`): not the current folder, a file, a link, another command's output
    set or a folder of the user's files, whatever ``--force`` says.

    Parameters
    ----------
    folder : path
        The ``--out`` folder.

    Returns
    -------
    Path
        The absolute folder.
    """
    path = _outputs.check_folder(folder)
    if not path.is_dir():
        return path
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return path
    foreign = [name for name in entries if name not in SWEEP_NAMES]
    if foreign or SPEC_FILE not in entries:
        shown = ", ".join((foreign or entries)[:3]) + ("..." if len(foreign or entries) > 3 else "")
        raise FileExistsError(
            f"--out {path} is not a sweep folder: it holds {shown} and "
            f"{'files a sweep does not write' if foreign else f'no {SPEC_FILE}'}; a sweep owns "
            f"its folder: name a new or empty one"
        )
    return path


def prepare_folder(folder: str | os.PathLike, spec: SweepSpec, *, overwrite: bool = False) -> Path:
    """Create the sweep folder with ``spec.toml``, or check that it holds the same spec.

    A folder that is not a sweep's is refused (:func:`check_sweep_folder`). One that holds
    another spec is refused unless ``overwrite``: then ``spec.toml`` is replaced and the old
    report (tables and plots) removed, so no file of the old spec's report survives; stored
    runs the new spec also plans are reused, the others left out of the report. Run folders
    left half-written (or half-replaced) by an interrupted sweep are removed.

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
    folder = check_sweep_folder(folder)
    spec_file = folder / SPEC_FILE
    same = spec_file.exists() and _stored_spec(spec_file) == spec
    if spec_file.exists() and not same and not overwrite:
        raise FileExistsError(
            f"{folder} holds a sweep of another spec ({spec_file} differs); use another "
            "--out, or pass --force to replace the spec and reuse the runs both plan"
        )
    if not same:
        for name in REPORT_FILES:
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / PLOTS_DIR, ignore_errors=True)
        _io.atomic_write_text(spec_file, spec.text, overwrite=True)
    for partial in (folder / RUNS_DIR).glob(".partial-*"):
        shutil.rmtree(partial)
    for stale in (folder / RUNS_DIR).glob(".stale-*"):  # a replaced run, if killed meanwhile
        shutil.rmtree(stale)
    return folder


def _stored_spec(spec_file: Path) -> SweepSpec | None:
    try:
        return parse_spec(spec_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):  # unreadable: another spec
        return None


def _check_run_folders(
    folder: Path, runs: Sequence[RunSpec], problems: Mapping[str, str], *, overwrite: bool
) -> None:
    """Refuse to overwrite a run folder that fails its check, unless ``overwrite``."""
    if overwrite:
        return
    for run in runs:
        if run.key in problems:
            raise ValueError(
                f"{folder / RUNS_DIR / run.key} is not a stored run: {problems[run.key]}; "
                f"remove it, or pass --force to compute that run again"
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


class ClusterError(OSError):
    """The Dask cluster cannot run the sweep: no scheduler answers, no worker is left, or a
    worker runs another hsc_ref version (exit status 2, one line)."""


def _connect(distributed: Any, scheduler: str) -> Any:
    """A client of ``scheduler``, or :class:`ClusterError` within CONNECT_TIMEOUT + CONNECT_GRACE s.

    Dask's own timeout covers the connection, not a server that accepts it and never
    answers; the client is therefore made in a thread that is abandoned at the deadline.
    """
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=connect, name="hsc-ref-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + CONNECT_GRACE)
    if "client" in box:
        return box["client"]
    detail = box.get("error", f"nothing within {CONNECT_TIMEOUT + CONNECT_GRACE} s")
    raise ClusterError(f"--scheduler {scheduler}: no Dask scheduler answered ({detail})")


def _check_versions(client: Any) -> None:
    """Refuse a cluster whose workers run another hsc_ref version, before any run."""
    versions = client.run(_worker_version)
    other = {worker: v for worker, v in versions.items() if v != __version__}
    if other:
        worker, version = next(iter(other.items()))
        raise ClusterError(
            f"worker {worker} runs hsc_ref {version}, this client {__version__}: install the "
            f"same version on every worker"
        )


def _worker_version() -> str:
    import hsc_ref  # noqa: PLC0415  (the worker's own)

    return hsc_ref.__version__


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of an embedded ``LocalCluster``, or of ``scheduler``.

    The embedded cluster has ``workers`` (default: one per core) single-threaded worker
    processes; Dask's nannies start them with one OpenBLAS thread, and a run whose worker
    dies is not retried there (it is recorded as lost and retried by a rerun). It is closed
    on exit.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler; it must answer within :data:`CONNECT_TIMEOUT`
        seconds (:class:`ClusterError` otherwise).
    workers : int, optional
        Processes of the embedded cluster.

    Returns
    -------
    context manager
        Yields the connected client.
    """
    distributed = _distributed()
    if scheduler is not None:
        with _connect(distributed, scheduler) as client:
            _check_versions(client)
            yield client
        return
    n = _cores() if workers is None else workers
    import dask  # noqa: PLC0415  (optional extra)

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two sweeps never clash
            silence_logs=logging.CRITICAL,
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


WORKER_WAIT = 60
"""Seconds a sweep waits with runs to do and no worker connected before it gives up."""

POLL = 1.0
"""Seconds between checks of the cluster while runs are in flight."""


def _execute(
    client: Any,
    todo: Sequence[RunSpec],
    phase: str,
    folder: Path,
    *,
    bar: Any | None,
    on_stored: Callable[[Path], None] | None,
    replace: Sequence[str] = (),
) -> int:
    """Submit ``todo`` and store each run as it ends; cancel the rest on any error.

    A run whose worker died is stored as lost (a rerun retries it); a cluster with no worker
    for :data:`WORKER_WAIT` seconds, or a scheduler gone, raises :class:`ClusterError`.
    """
    distributed = _distributed()
    futures = {
        client.submit(execute_run, run.to_json(), key=f"hsc-ref-{run.key}", pure=False): run
        for run in todo
    }
    done, pending, alone_since = 0, set(futures), None
    try:
        while pending:
            try:
                finished, pending = distributed.wait(
                    pending, timeout=POLL, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                finished = set()
            for future in finished:
                run = futures[future]
                path = _store_future(folder, run, future, phase, replace=run.key in replace)
                done += 1
                if bar is not None:
                    bar.update(1)
                if on_stored is not None:
                    on_stored(path)
            alone_since = _watch_workers(client, alone_since, len(pending))
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        raise
    return done


def _store_future(folder: Path, run: RunSpec, future: Any, phase: str, *, replace: bool) -> Path:
    distributed = _distributed()
    if future.status == "cancelled":
        raise ClusterError(
            f"the Dask scheduler cancelled run {run.key} (the scheduler or its connection is "
            f"gone); rerun the same command to resume"
        )
    if future.status == "error":
        exc = future.exception()
        if isinstance(exc, distributed.KilledWorker):
            return store_lost(folder, run, phase, f"its worker died while running it ({exc})")
        raise exc
    return store_run(folder, run, future.result(), phase, replace=replace)


def _watch_workers(client: Any, alone_since: float | None, pending: int) -> float | None:
    """Raise :class:`ClusterError` once no worker has been connected for WORKER_WAIT s."""
    if not pending:
        return None
    try:
        workers = len(client.scheduler_info().get("workers", {}))
    except Exception as exc:
        raise ClusterError(f"the Dask scheduler stopped answering ({exc})") from None
    if workers:
        return None
    now = time.monotonic()
    if alone_since is None:
        return now
    if now - alone_since > WORKER_WAIT:
        raise ClusterError(
            f"no Dask worker has been connected for {WORKER_WAIT} s with {pending} runs to do; "
            f"start workers and rerun the same command to resume"
        )
    return alone_since


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
    path = check_sweep_folder(out)
    embedded = workers if scheduler is None else 1  # runs side by side on this machine
    _refuse_before_work(path, spec, overwrite=overwrite, workers=embedded)  # before any file
    with _outputs.folder_lock(path) as folder:
        prepare_folder(folder, spec, overwrite=overwrite)  # checks the spec again, locked
        executed, skipped = _run_phases(
            folder,
            spec,
            lambda stack: stack.enter_context(dask_client(scheduler, workers)),
            progress=progress,
            overwrite=overwrite,
            on_stored=on_stored,
        )
        report = write_report(folder, plots=plots, force=overwrite)
        total = _planned_total(spec, load_stored(folder))
    return SweepResult(folder, total, executed, skipped, time.perf_counter() - start, report)


def _refuse_before_work(
    folder: Path, spec: SweepSpec, *, overwrite: bool, workers: int | None
) -> None:
    """Everything that can be refused before the folder is written or a cluster started.

    Another spec without ``--force``, Dask missing (only when there are runs to compute),
    and every size the spec's runs imply (:func:`check_run_sizes`).
    """
    spec_file = folder / SPEC_FILE
    if spec_file.exists() and _stored_spec(spec_file) != spec and not overwrite:
        raise FileExistsError(
            f"{folder} holds a sweep of another spec ({spec_file} differs); use another "
            "--out, or pass --force to replace the spec and reuse the runs both plan"
        )
    stored = load_stored(folder) if folder.is_dir() else {}
    if all(run.key in stored for _, runs in plan(spec, stored).phases for run in runs):
        return  # nothing to compute: no cluster will start
    _distributed()
    check_run_sizes(spec, at_once=_cores() if workers is None else workers)


def check_run_sizes(spec: SweepSpec, *, at_once: int = 1) -> None:
    """Refuse, before any cluster starts, a spec whose runs cannot fit in memory.

    Each setting of each method is checked as its command checks it (GAN:
    :func:`hsc_ref.gan.train.check_memory`; style: :func:`hsc_ref.lab._style_run.check_sizes`),
    against the memory available now and the process's own limit (``RLIMIT_AS``); a refusal
    names the spec's table and the option. A run's size depends on its setting, not on its
    seed or step size, so one run per setting and method is checked; then ``at_once`` runs
    of the largest of them, as the embedded cluster's workers run them side by side.

    Parameters
    ----------
    spec : SweepSpec
    at_once : int, default 1
        Runs computed at the same time on this machine (the embedded cluster's workers).

    Returns
    -------
    None

    Examples
    --------
    >>> spec = parse_spec('[gan]\\ndata = ["ring"]\\nn_eval = 10000000000000')
    >>> try:
    ...     check_run_sizes(spec)
    ... except MemoryError as exc:
    ...     print(str(exc)[:54])
    gan: n_eval = 10000000000000 (the evaluation samples)
    """
    from hsc_ref.gan.train import TrainConfig, check_memory, memory_parts  # noqa: PLC0415
    from hsc_ref.lab._style_run import BYTES_PER_UNKNOWN, check_sizes  # noqa: PLC0415

    seen, largest = set(), (0, "")
    for run in spec.grid_runs():
        if (run.kind, run.setting, run.method) in seen:
            continue
        seen.add((run.kind, run.setting, run.method))
        try:
            if run.kind == "gan":
                config = TrainConfig(**run.config)
                check_memory(config)
                nbytes = sum(n for _, n in memory_parts(config))
            else:
                check_sizes(**run.config)
                nbytes = 3 * run.config["size"] ** 2 * BYTES_PER_UNKNOWN
        except MemoryError as exc:
            raise MemoryError(f"{run.kind}: {exc}") from None
        except ValueError as exc:
            raise SpecError(f"{run.kind}: {exc}") from None
        largest = max(largest, (nbytes, f"{run.kind} {run.setting} {run.method}"))
    if at_once > 1 and largest[0]:
        _limits.require_memory(
            at_once * largest[0],
            f"--workers {at_once} runs at once of {largest[1]}",
            hint="pass fewer --workers or make the runs smaller",
        )


def _run_phases(
    folder: Path,
    spec: SweepSpec,
    start_client: Callable[[contextlib.ExitStack], Any],
    *,
    progress: bool,
    overwrite: bool,
    on_stored: Callable[[Path], None] | None,
) -> tuple[int, int]:
    """Compute every planned run not stored, phase by phase; ``(executed, skipped)``."""
    executed, skipped = 0, 0
    try:
        with contextlib.ExitStack() as stack:
            client = None
            for phase in _phase_names(spec):
                problems: dict[str, str] = {}
                stored = load_stored(folder, problems=problems)
                current = dict(plan(spec, stored).phases)[phase]
                _check_run_folders(folder, current, problems, overwrite=overwrite)
                todo = [run for run in current if run.key not in stored]
                skipped += len(current) - len(todo)
                if not todo:
                    continue
                if client is None:
                    client = start_client(stack)
                bar = _bar(len(current), len(current) - len(todo), phase, progress)
                with bar if bar is not None else contextlib.nullcontext():
                    executed += _execute(
                        client,
                        todo,
                        phase,
                        folder,
                        bar=bar,
                        on_stored=on_stored,
                        replace=[r.key for r in todo if (folder / RUNS_DIR / r.key).exists()],
                    )
    except KeyboardInterrupt:
        stored_now = len(load_stored(folder))
        raise KeyboardInterrupt(
            f"interrupted; {stored_now} runs are stored under {folder / RUNS_DIR}: rerun the "
            "same command to resume"
        ) from None
    return executed, skipped


def _phase_names(spec: SweepSpec) -> tuple[str, ...]:
    return ("grid",) if spec.mode == "grid" else ("tune", "confirm")


def _planned_total(spec: SweepSpec, stored: Mapping[str, Any]) -> int:
    result: Plan = plan(spec, stored)
    return sum(len(runs) for _, runs in result.phases)
