"""``hsc-ref --blas-threads``, measured: one GAN command alone and beside a two-thread BLAS load.

The measurement of ``docs/experiments.md``, section "Threads"::

    python benchmarks/threads.py --record docs/tables/records/threads.json --force

runs ``hsc-ref --blas-threads SETTING gan --data ring --method hsc --steps 60 --out TMP
--force --no-plots --no-progress`` (as ``python -m hsc_ref``) for each setting (``default``:
the libraries' own thread pools; ``auto``: one thread per pool for small matrices),
``--repeats`` times, alone and beside a competing load: a second Python process multiplying
400 x 400 matrices on two OpenBLAS threads, started (and given :data:`SETTLE_S` seconds)
before the runs it accompanies and stopped after them. Per run it records the wall time, the
user and system CPU time of the command (``os.wait4``), its exit status and the load average
just before it; with the machine's facts and the git commit. "Alone" means without the added
load: whatever else the machine runs is only visible in the load averages.

The runs take turns: each repeat runs every setting alone, then starts the load, runs every
setting beside it and stops the load; the settings' order alternates from one repeat to the
next. ``--warmups`` untimed runs come first (recorded apart), so that no timed run pays for
reading the libraries from disk. The command runs without the thread variables
(``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) of this environment, so
that ``default`` is the libraries' default.

The record (JSON) is written once, at the end, atomically; an existing one is kept unless
``--force``. Ctrl-C or SIGTERM stops the running command and the load, and writes nothing.
Quick version (seconds): ``--repeats 1 --steps 2 --warmups 0 --settings auto --beside alone``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

__all__ = [
    "Run",
    "gan_command",
    "competing_load",
    "time_command",
    "measure",
    "machine_facts",
    "code_state",
    "code_changed_since",
    "check_record_path",
    "write_record",
    "utc_now",
    "main",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECORD = ROOT / "runs" / "benchmarks" / "threads.json"
SETTINGS = ("default", "auto")
BESIDE = ("alone", "load")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOAD_THREADS = 2
LOAD_CODE = (
    "import os\n"
    "import numpy as np\n"
    "parent = os.getppid()\n"
    "a = np.random.default_rng(0).random((400, 400))\n"
    "while os.getppid() == parent:\n"
    "    a @ a\n"
)
"""The competing load: 400 x 400 products until stopped, or until this script is gone."""
SETTLE_S = 1.0
"""Seconds between starting the load and the first run beside it (its NumPy import)."""
STOP_S = 5.0
"""Seconds a stopped process gets to exit before it is killed."""


class Run(NamedTuple):
    """One timed run of the command."""

    threads: str  # the --blas-threads setting
    beside: str  # "alone" or "load"
    repeat: int
    wall_s: float
    user_s: float
    sys_s: float
    exit_status: int  # negative: killed by that signal
    load_average_before: tuple[float, float, float]  # 1, 5, 15 minutes


def gan_command(setting: str, steps: int, out: Path) -> list[str]:
    """The measured command, as argv: ``hsc-ref --blas-threads SETTING gan ...``."""
    return [
        sys.executable,
        "-m",
        "hsc_ref",
        "--blas-threads",
        setting,
        "gan",
        *("--data", "ring", "--method", "hsc", "--steps", str(steps), "--out", str(out)),
        *("--force", "--no-plots", "--no-progress"),
    ]


def _command_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}


def _stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a child, kill it if it does not exit within :data:`STOP_S`, reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def competing_load(threads: int = LOAD_THREADS, settle_s: float = SETTLE_S) -> Iterator[int]:
    """A process running BLAS products on ``threads`` threads while the block runs; its pid.

    The load is stopped on leaving the block, also on an error or Ctrl-C; it also stops by
    itself when this process is gone. It must still be running when the block ends.
    """
    env = {**_command_environment(), "OPENBLAS_NUM_THREADS": str(threads)}
    env["OMP_NUM_THREADS"] = str(threads)
    process = subprocess.Popen([sys.executable, "-c", LOAD_CODE], env=env)
    try:
        time.sleep(settle_s)
        _check_running(process, "started")
        yield process.pid
        _check_running(process, "accompanied")
    finally:
        _stop(process)


def _check_running(process: subprocess.Popen[Any], when: str) -> None:
    if process.poll() is not None:
        raise RuntimeError(
            f"the competing load stopped before the runs it {when} were done "
            f"(exit status {process.returncode}); see its message above"
        )


def time_command(argv: Sequence[str], log: IO[str]) -> tuple[float, float, float, int]:
    """Run ``argv``; its wall time, user and system CPU time (s), and exit status.

    The CPU times are the child's own, from ``os.wait4``. Its standard output is dropped;
    its standard error goes to ``log``. An interrupt kills the child before propagating.
    """
    env = _command_environment()
    start = time.perf_counter()
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log) as process:
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            _stop(process)
            raise
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime, usage.ru_stime, process.returncode


def _one_run(setting: str, beside: str, repeat: int, steps: int, out: Path) -> Run:
    load = os.getloadavg()
    with tempfile.TemporaryFile("w+") as log:
        wall, user, system, status = time_command(gan_command(setting, steps, out), log)
        if status != 0:
            log.seek(0)
            print(f"  exit status {status}:\n{log.read()[-2000:]}", file=sys.stderr)
    print(f"  {setting:>7} {beside:>5} #{repeat}: {wall:.2f} s wall, {user:.2f} s user")
    return Run(setting, beside, repeat, wall, user, system, status, load)


def _runs_beside(
    beside: str, settings: Sequence[str], repeat: int, steps: int, out: Path
) -> list[Run]:
    context = competing_load() if beside == "load" else contextlib.nullcontext()
    with context:
        return [_one_run(s, beside, repeat, steps, out) for s in settings]


def measure(
    settings: Sequence[str], besides: Sequence[str], repeats: int, steps: int, warmups: int
) -> tuple[list[Run], list[Run]]:
    """The warm-up runs and the timed runs, in the order of the module's description."""
    with tempfile.TemporaryDirectory(prefix="hsc-threads-") as folder:
        out = Path(folder) / "run"
        warm = [_one_run(settings[0], "alone", -1 - i, steps, out) for i in range(warmups)]
        runs: list[Run] = []
        for repeat in range(repeats):
            order = list(settings) if repeat % 2 == 0 else list(reversed(settings))
            for beside in besides:
                runs += _runs_beside(beside, order, repeat, steps, out)
    return warm, runs


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def machine_facts() -> dict[str, Any]:
    """Cores, CPU, platform, Python and library versions, and the thread variables."""
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("hsc-ref", "numpy", "scipy", "autograd", "threadpoolctl")
        },
        "thread_variables": {
            k: os.environ.get(k) for k in (*THREAD_VARIABLES, "HSC_REF_BLAS_THREADS")
        },
    }


def code_state() -> dict[str, Any]:
    """The measured code: the git commit, ``hsc_ref/``'s tree in it, its uncommitted changes.

    Taken before measuring; compared with a second reading after it, since a shared working
    tree may change while a measurement runs.
    """
    diff = _git("diff", "HEAD", "--", "hsc_ref") or ""
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "hsc_ref_tree": _git("rev-parse", "HEAD:hsc_ref"),
        "uncommitted_in_hsc_ref": (
            _git("diff", "--name-only", "HEAD", "--", "hsc_ref") or ""
        ).splitlines(),
        "uncommitted_sha256": hashlib.sha256(diff.encode()).hexdigest(),
    }


def code_changed_since(before: dict[str, Any]) -> bool:
    """Whether ``hsc_ref/`` differs now from the :func:`code_state` ``before``."""
    now = code_state()
    return any(now[k] != before[k] for k in ("hsc_ref_tree", "uncommitted_sha256"))


def check_record_path(path: Path, force: bool) -> None:
    """Refuse to overwrite an existing record without ``--force`` (before measuring)."""
    if path.exists() and not force:
        raise SystemExit(f"--record {path} exists; give --force to overwrite it")
    if path.exists() and not path.is_file():
        raise SystemExit(f"--record {path} exists and is not a file")


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def utc_now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _positive(minimum: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip("`"))
    p.add_argument("--repeats", type=_positive(1), default=5, help="runs per row (default 5)")
    p.add_argument("--steps", type=_positive(1), default=60, help="GAN steps per run (60)")
    p.add_argument("--warmups", type=_positive(0), default=1, help="untimed runs first (1)")
    p.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    p.add_argument("--beside", nargs="+", choices=BESIDE, default=list(BESIDE))
    p.add_argument(
        "--record", type=Path, default=DEFAULT_RECORD, help=f"JSON file ({DEFAULT_RECORD})"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing record")
    return p


def _arguments(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python benchmarks/threads.py``."""
    args = _parser().parse_args(argv)
    settings, besides = list(dict.fromkeys(args.settings)), list(dict.fromkeys(args.beside))
    check_record_path(args.record, args.force)
    signal.signal(signal.SIGTERM, _interrupt)
    started, code = utc_now(), code_state()
    try:
        warm, runs = measure(settings, besides, args.repeats, args.steps, args.warmups)
    except KeyboardInterrupt:
        print("threads.py: interrupted; the command and the load are stopped, nothing written")
        return 130
    record = {
        "experiment": "threads",
        "command": shlex.join(["python", "benchmarks/threads.py", *_arguments(argv)]),
        "measured": " ".join(["hsc-ref", *gan_command("SETTING", args.steps, Path("TMP"))[3:]]),
        "options": {
            "repeats": args.repeats,
            "steps": args.steps,
            "warmups": args.warmups,
            "settings": settings,
            "beside": besides,
        },
        "load": {"threads": LOAD_THREADS, "code": LOAD_CODE, "settle_s": SETTLE_S},
        "machine": machine_facts(),
        "code": code,
        "code_changed_during_measurement": code_changed_since(code),
        "started": started,
        "finished": utc_now(),
        "warmup_runs": [r._asdict() for r in warm],
        "runs": [r._asdict() for r in runs],
    }
    write_record(args.record, record)
    print(f"wrote {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
