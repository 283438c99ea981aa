"""The sweep engine on Dask: runs identical to their commands, resume after an interruption
(in-process and by Ctrl-C), and the same sweep on a separately started scheduler with two
workers. Tiny runs: each Dask test costs a few seconds, mostly starting processes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hsc_ref.cli import main
from hsc_ref.lab.sweep import _engine as engine
from hsc_ref.lab.sweep._engine import run_sweep
from hsc_ref.lab.sweep._report import RUN_FILE, load_stored
from hsc_ref.lab.sweep._spec import parse_spec

distributed = pytest.importorskip("distributed")

TIMING = {"wall_time", "wall_time_per_step", "times_s"}
"""Seconds measured while running: the only outputs allowed to differ between two runs."""

START_TIMEOUT = 90
"""Seconds a Dask process may take to start on a busy 2-core machine."""


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING}
    return value


def assert_same_outputs(a: Path, b: Path) -> None:
    """Every output file of run folder ``a`` equals ``b``'s bit for bit, timings aside."""
    names = sorted(p.name for p in a.iterdir() if p.name != RUN_FILE)
    assert names == sorted(p.name for p in b.iterdir() if p.name != RUN_FILE)
    for name in names:
        if name.endswith(".npz"):
            with np.load(a / name) as x, np.load(b / name) as y:
                assert sorted(x.files) == sorted(y.files), name
                for key in set(x.files) - TIMING:
                    np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}:{key}")
        elif name == "manifest.json":  # the output set's hashes cover the timings too
            x, y = (json.loads((folder / name).read_text()) for folder in (a, b))
            assert sorted(x.pop("files")) == sorted(y.pop("files")) and x == y, name
        elif name.endswith(".json"):
            x, y = (json.loads((folder / name).read_text()) for folder in (a, b))
            assert _without_timing(x) == _without_timing(y), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((folder / "runs").rglob("*"))
        if p.is_file()
    }


class _Stop:
    """``on_stored`` hook that interrupts the sweep, as Ctrl-C would, after ``after`` runs."""

    def __init__(self, after: int) -> None:
        self.after, self.seen = after, 0

    def __call__(self, path: Path) -> None:
        self.seen += 1
        if self.seen == self.after:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny) -> Path:
    """The tiny grid computed in this process, without Dask."""
    folder = tmp_path_factory.mktemp("reference")
    tiny["in_process"](parse_spec(tiny["grid"]), folder)
    return folder


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, tiny) -> dict:
    """The tiny grid on the embedded cluster: stopped after 3 stored runs, then rerun."""
    folder = tmp_path_factory.mktemp("resumed")
    spec = parse_spec(tiny["grid"])
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_sweep(spec, folder, workers=2, progress=False, plots=False, on_stored=_Stop(3))
    before = _snapshot(folder)
    result = run_sweep(spec, folder, workers=2, progress=False, plots=False)
    return {"folder": folder, "message": str(stopped.value), "before": before, "result": result}


def test_an_interrupted_sweep_says_how_to_resume_and_keeps_what_it_stored(resumed):
    assert "interrupted; 3 runs are stored under" in resumed["message"]
    assert "rerun the same command to resume" in resumed["message"]
    stored_before = {name.split("/")[1] for name in resumed["before"]}
    assert len(stored_before) == 3 and not any(n.startswith(".") for n in stored_before)


def test_the_rerun_skips_the_stored_runs_and_leaves_them_untouched(resumed):
    result = resumed["result"]
    assert (result.skipped, result.executed, result.planned) == (3, 11, 14)
    after = _snapshot(resumed["folder"])
    assert all(after[name] == value for name, value in resumed["before"].items())
    assert not list((resumed["folder"] / "runs").glob(".partial-*"))


def test_the_resumed_sweep_equals_an_uninterrupted_one(resumed, reference):
    runs = load_stored(resumed["folder"])
    assert sorted(runs) == sorted(load_stored(reference))
    for key in runs:
        assert_same_outputs(resumed["folder"] / "runs" / key, reference / "runs" / key)


def test_each_stored_run_is_bit_for_bit_what_its_command_computes(resumed, tmp_path):
    runs = load_stored(resumed["folder"])
    assert {r["run"]["kind"] for r in runs.values()} == {"gan", "style"}
    for key, record in runs.items():
        words = shlex.split(record["command"])
        words[words.index("--out") + 1] = str(tmp_path / key)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["--blas-threads", "1", *words[1:], "--no-progress"]) == 0
        assert_same_outputs(resumed["folder"] / "runs" / key, tmp_path / key)


def test_workers_ran_on_one_blas_thread_per_pool(resumed):
    runs = load_stored(resumed["folder"]).values()
    assert all(r["worker"].startswith("tcp://127.0.0.1:") for r in runs)  # Dask workers
    counts = [n for r in runs for n in r["blas_threads"].values()]
    assert counts and set(counts) == {1}


# --------------------------------------------------------------------------- a separate cluster


def _dask(*words: str, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # closed by _stop
    process = subprocess.Popen(
        [sys.executable, "-m", "dask", *words], stdout=handle, stderr=subprocess.STDOUT
    )
    process.log = handle  # type: ignore[attr-defined]
    return process


def _stop(processes: list[subprocess.Popen]) -> None:
    # workers first, each waited for, then the scheduler: a worker still shutting down when
    # the scheduler is gone retries its connection for 30 s before it exits
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        process.log.close()  # type: ignore[attr-defined]


def _wait_for_file(path: Path, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        dead = [p.args for p in processes if p.poll() is not None]
        assert not dead, f"a Dask process exited early: {dead}"
        assert time.monotonic() < deadline, f"the Dask scheduler wrote no {path}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; always stopped."""
    folder = tmp_path_factory.mktemp("cluster")
    info = folder / "scheduler.json"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _dask(
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
                log=folder / "scheduler.log",
            )
        )
        _wait_for_file(info, processes)
        address = json.loads(info.read_text())["address"]
        for name in ("w0", "w1"):
            processes.append(
                _dask(
                    "worker",
                    address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(folder / name),
                    log=folder / f"{name}.log",
                )
            )
        with distributed.Client(address, timeout=f"{START_TIMEOUT}s") as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield address
    finally:
        _stop(processes)


def test_the_same_sweep_runs_on_a_separately_started_scheduler(
    scheduler, reference, tmp_path, tiny, capsys
):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny["grid"], encoding="utf-8")
    out = tmp_path / "sweep"
    words = ["sweep", str(spec_file), "--out", str(out), "--scheduler", scheduler]
    assert main([*words, "--no-progress", "--no-plots"]) == 0
    assert "14 runs computed, 0 found stored" in capsys.readouterr().out
    runs = load_stored(out)
    assert sorted(runs) == sorted(load_stored(reference))
    for key in runs:
        assert_same_outputs(out / "runs" / key, reference / "runs" / key)
    assert len({r["worker"] for r in runs.values()}) == 2  # both workers took runs
    tables = {name: (out / name).read_bytes() for name in ("runs.csv", "summary.csv")}
    assert main(["sweep", "--report", str(out), "--no-plots"]) == 0  # rebuilt from the runs
    assert {name: (out / name).read_bytes() for name in tables} == tables


def test_an_unreachable_scheduler_is_refused_with_status_2(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 2)
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny["grid"], encoding="utf-8")
    words = ["sweep", str(spec_file), "--out", str(tmp_path / "s"), "--no-progress"]
    assert main([*words, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err


# --------------------------------------------------------------------------- Ctrl-C, for real


def test_ctrl_c_stops_the_command_and_the_rerun_resumes(tmp_path, tiny, scheduler):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny["grid"], encoding="utf-8")
    out = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "hsc_ref",
        "sweep",
        str(spec_file),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
        "--no-plots",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(load_stored(out)) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "no run was stored in time"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode == 0:  # pragma: no cover - every run finished before the signal
        pytest.skip("the sweep finished before Ctrl-C arrived")
    assert process.returncode == 130, err.decode()
    assert b"rerun the same command to resume" in err
    stored = len(load_stored(out))
    assert 2 <= stored < 14
    # the rerun on the cluster already started for the test above (saves starting another)
    result = run_sweep(spec_file, out, scheduler=scheduler, progress=False, plots=False)
    assert (result.skipped, result.executed) == (stored, 14 - stored)


# --------------------------------------------------------------------------- without a cluster


def test_without_dask_a_sweep_says_what_to_install(tmp_path, tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'hsc-ref\[sweep\]'"):
        run_sweep(parse_spec(tiny["grid"]), tmp_path, progress=False)


def test_a_folder_of_another_spec_is_refused_unless_forced(reference, tiny, tmp_path):
    # a spec planning a subset of the stored runs: nothing to compute, so no cluster starts
    subset = tiny["grid"].replace("seeds = [0, 1]", "seeds = [1]")
    with pytest.raises(FileExistsError, match="holds a sweep of another spec"):
        run_sweep(parse_spec(subset), reference, progress=False, plots=False)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(reference), str(copy)], check=True)
    result = run_sweep(parse_spec(subset), copy, progress=False, plots=False, overwrite=True)
    assert (result.executed, result.skipped, result.planned) == (0, 8, 8)
    assert (copy / "spec.toml").read_text() == subset
    assert len(load_stored(copy)) == 14  # the other runs stay on disk, out of the report


def test_a_run_folder_without_its_record_is_named_not_overwritten(reference, tmp_path, tiny):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(reference), str(copy)], check=True)
    key = sorted(load_stored(copy))[0]
    os.remove(copy / "runs" / key / RUN_FILE)
    with pytest.raises(ValueError, match=f"{key} is not a stored run: it holds no run.json"):
        run_sweep(parse_spec(tiny["grid"]), copy, progress=False)
    assert (copy / "runs" / key / "metrics.json").exists()


def test_the_output_comparison_catches_a_changed_number(reference, tmp_path):
    # the bit-for-bit checks above are only as good as assert_same_outputs: plant changes
    key = next(k for k, r in load_stored(reference).items() if r["run"]["kind"] == "gan")
    original = reference / "runs" / key
    for name, change in (("metrics.json", "json"), ("samples.npz", "npz"), ("history.npz", "npz")):
        copy = tmp_path / f"{name}-changed"
        subprocess.run(["cp", "-r", str(original), str(copy)], check=True)
        if change == "json":
            data = json.loads((copy / name).read_text())
            data["metrics"]["final_loss_g"] = np.nextafter(data["metrics"]["final_loss_g"], 9.0)
            (copy / name).write_text(json.dumps(data))
        else:
            with np.load(copy / name) as archive:
                arrays = {k: archive[k].copy() for k in archive.files}
            field = "samples" if name == "samples.npz" else "loss_g"
            arrays[field].flat[0] = np.nextafter(arrays[field].flat[0], np.inf)  # one ulp
            np.savez(copy / name, **arrays)
        with pytest.raises(AssertionError):
            assert_same_outputs(copy, original)
    assert_same_outputs(original, original)  # and an unchanged folder passes
