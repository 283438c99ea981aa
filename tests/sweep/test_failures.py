"""Failures are results, the folder is the sweep's own, what is stored is checked when read,
and refusals come before any work: each case of the hostile inputs in a table, then one real
sweep with a diverging grid point and a SIGKILLed worker. In-process cases cost well under a
second each; the Dask test starts one embedded cluster (a few seconds)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest

from hsc_ref import _io
from hsc_ref.cli import main
from hsc_ref.derivatives import hessian
from hsc_ref.lab import _checkpoint
from hsc_ref.lab.sweep import _engine as engine
from hsc_ref.lab.sweep._engine import execute_run, run_outcome, run_sweep, store_run
from hsc_ref.lab.sweep._protocol import plan, select_step_size
from hsc_ref.lab.sweep._report import RUN_FILE, load_stored, write_report
from hsc_ref.lab.sweep._spec import RunSpec, parse_spec
from hsc_ref.loop import LoopProgress

ROOT = Path(__file__).resolve().parents[2]

DIVERGING = """
[gan]
data = ["dirac"]
methods = ["hsc"]
steps = 3
n_eval = 16
seeds = [0, 1]
[gan.lr]
hsc = [1e308, 0.5]
"""
"""4 DiracGAN runs; lr = 1e308 diverges at its first step (an overflowing update)."""


def _quiet(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


@pytest.fixture(scope="module")
def diverged(tmp_path_factory, tiny) -> Path:
    """The diverging spec computed in this process: 2 diverged and 2 finished runs."""
    folder = tmp_path_factory.mktemp("diverged")
    tiny["in_process"](parse_spec(DIVERGING), folder)
    write_report(folder, plots=False)
    return folder


# --------------------------------------------------------------------------- failure is data


@pytest.mark.parametrize("batched", [False, True, "auto"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_loss_is_named_on_every_hessian_route(batched, bad):
    def fun(x):
        return anp.sum(x**2, axis=-1) * bad

    with pytest.raises(FloatingPointError, match=f"fun returned {bad} at x"):
        hessian(fun, np.ones(3), batched=batched)


def test_a_diverging_grid_point_is_a_stored_result_and_the_rest_runs(diverged):
    records = load_stored(diverged)
    status = {r["lr"]: r["status"] for r in records.values()}
    assert len(records) == 4 and status == {1e308: "diverged", 0.5: "finished"}
    bad = next(r for r in records.values() if r["status"] == "diverged")
    assert bad["steps_completed"] == 0 and "non-finite" in bad["reason"]
    summary = (diverged / "summary.md").read_text()
    assert "4 of 4 planned runs stored; 2 diverged, 0 failed" in summary
    rows = (diverged / "runs.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"status", "steps_completed", "reason"} <= set(header) and len(rows) == 5


def test_a_run_that_hits_its_own_limit_is_stored_as_failed(tmp_path, monkeypatch):
    run = RunSpec.build("gan", {"data": "dirac", "method": "hsc", "steps": 2, "lr": 1.0, "seed": 0})

    def overflowing(spec, out):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(engine, "_compute", overflowing)
    payload = execute_run(run.to_json())
    assert (payload["status"], payload["files"]) == ("failed", {})
    path = store_run(tmp_path, run, payload, "grid")
    record = load_stored(tmp_path)[run.key]
    assert record["status"] == "failed" and record["reason"].startswith("OverflowError: int")
    assert path.name == run.key and run_outcome(run, payload)["metrics"] == {}
    assert payload["steps_completed"] is None and record["steps_completed"] is None  # no step


def test_a_run_that_fails_inside_a_step_records_the_step_it_reached(tmp_path, monkeypatch):
    run = RunSpec.build("gan", {"data": "dirac", "method": "hsc", "steps": 5, "lr": 1.0, "seed": 0})
    train_globals = sys.modules["hsc_ref.gan.train"].train.__globals__
    real, calls = train_globals["sample"], []

    def overflowing(*args, **kwargs):  # the batch of the fourth step (t = 3) overflows
        calls.append(1)
        if len(calls) == 4:
            raise OverflowError("the batch overflowed")
        return real(*args, **kwargs)

    monkeypatch.setitem(train_globals, "sample", overflowing)
    payload = execute_run(run.to_json())
    assert (payload["status"], payload["steps_completed"]) == ("failed", 3)
    store_run(tmp_path, run, payload, "grid")
    record = load_stored(tmp_path)[run.key]
    assert (record["status"], record["steps_completed"]) == ("failed", 3)
    assert record["reason"] == "OverflowError: the batch overflowed"


def test_tuning_never_chooses_a_step_size_with_a_diverged_run():
    spec = parse_spec(
        'mode = "tune-confirm"\n[gan]\ndata = ["dirac"]\nmethods = ["sgd"]\n'
        "tune_seeds = [0, 1, 2]\nconfirm_seeds = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n"
        "[gan.lr]\nsgd = [0.1, 0.2]"
    )
    runs = spec.grid_runs()
    # lr 0.2 has the better median (two seeds at distance 0.1) but one seed diverged
    fake = {
        r.key: {
            "status": "diverged" if (r.lr, r.seed) == (0.2, 2) else "finished",
            "metrics": {
                "distance_to_equilibrium": 0.1 if r.lr == 0.2 else 1.0,
                "diverged_at": 5 if (r.lr, r.seed) == (0.2, 2) else None,
            },
        }
        for r in runs
    }
    selection = select_step_size(spec.section("gan"), runs, fake)
    assert (selection.chosen, selection.failed) == (0.1, (0, 1))
    for r in runs:  # every step size diverged somewhere: none chosen, nothing confirmed
        fake[r.key]["status"] = "diverged" if r.seed == 0 else "finished"
    selection = select_step_size(spec.section("gan"), runs, fake)
    assert selection.none_viable and selection.chosen is None
    assert dict(plan(spec, fake).phases)["confirm"] == ()


# --------------------------------------------------------------------------- the folder


def _spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml.in"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda out: (out.mkdir(), (out / "notes.txt").write_text("mine")), "not a sweep folder"),
        (lambda out: (out.mkdir(), (out / "summary.md").write_text("mine")), "no spec.toml"),
        (lambda out: out.write_text("a file"), "must be a folder"),
        (
            lambda out: main(["gan", "--data", "dirac", "--steps", "1", "--out", str(out)]),
            "not a sweep folder",
        ),
    ],
    ids=["user-files", "report-without-spec", "a-file", "a-gan-output-set"],
)
def test_a_folder_that_is_not_the_sweeps_is_refused_even_with_force(tmp_path, tiny, setup, message):
    out = tmp_path / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        setup(out)
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
    spec = _spec_file(tmp_path, DIVERGING)
    status, err = _quiet(["sweep", str(spec), "--out", str(out), "--force", "--no-progress"])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before


def test_the_current_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, err = _quiet(["sweep", str(_spec_file(tmp_path, DIVERGING)), "--out", "."])
    assert status == 2 and "must not be the current folder" in err


def test_a_failed_start_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    status, err = _quiet(["sweep", str(_spec_file(tmp_path, DIVERGING)), "--out", str(out)])
    assert status == 2 and "pip install 'hsc-ref[sweep]'" in err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_second_writer_of_the_folder_is_refused(diverged, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(diverged, copy)
    with engine._outputs.folder_lock(copy):
        status, err = _quiet(["sweep", "--report", str(copy), "--no-plots"])
    assert status == 2 and "another hsc-ref run is writing" in err


def test_force_with_a_new_spec_replaces_the_report_as_a_whole(diverged, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(diverged, copy)
    (copy / "plots").mkdir()
    (copy / "plots" / "gan-old-setting-modes_captured.png").write_bytes(b"old")
    subset = DIVERGING.replace("seeds = [0, 1]", "seeds = [1]")
    run_sweep(parse_spec(subset), copy, progress=False, plots=True, overwrite=True)
    assert not (copy / "plots" / "gan-old-setting-modes_captured.png").exists()
    assert len((copy / "runs.csv").read_text().splitlines()) == 3


# --------------------------------------------------------------------------- stored = checked


def _tamper(kind: str, run: Path) -> None:
    if kind == "deleted":
        (run / "samples.npz").unlink()
    elif kind == "truncated":
        data = (run / "history.npz").read_bytes()
        (run / "history.npz").write_bytes(data[: len(data) // 2])
    elif kind == "metrics-edited":
        record = json.loads((run / RUN_FILE).read_text())
        record["metrics"]["distance_to_equilibrium"] = 0.0
        (run / RUN_FILE).write_text(json.dumps(record))
    elif kind == "added":
        (run / "extra.txt").write_text("x")
    else:
        (run / RUN_FILE).write_text("{not json")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("deleted", r"missing \['samples.npz'\]"),
        ("truncated", "history.npz differs from run.json"),
        ("metrics-edited", "metrics in run.json are not those of its metrics.json"),
        ("added", r"unlisted \['extra.txt'\]"),
        ("corrupt-record", "run.json is unreadable"),
    ],
)
def test_a_damaged_run_is_not_a_stored_run_and_is_recomputed_only_when_forced(
    diverged, tmp_path, kind, reason
):
    copy = tmp_path / "copy"
    shutil.copytree(diverged, copy)
    key = next(k for k, r in load_stored(copy).items() if r["status"] == "finished")
    _tamper(kind, copy / "runs" / key)
    problems: dict[str, str] = {}
    assert key not in load_stored(copy, problems=problems)
    assert problems.keys() == {key} and __import__("re").search(reason, problems[key])
    spec = str(copy / "spec.toml")
    status, err = _quiet(["sweep", spec, "--out", str(copy), "--no-progress"])
    assert status == 2 and f"{key} is not a stored run" in err and "--force" in err
    status, err = _quiet(["sweep", "--report", str(copy), "--no-plots"])  # 4 runs -> 3
    assert status == 2 and "holds 4 runs and would be replaced by one of 3" in err


def test_report_never_replaces_the_committed_record_with_less(tmp_path):
    copy = tmp_path / "gan-ring-protocol"
    shutil.copytree(ROOT / "docs/sweeps/results/gan-ring-protocol", copy)
    runs_csv = (copy / "runs.csv").read_bytes()
    status, err = _quiet(["sweep", "--report", str(copy), "--no-plots"])
    assert status == 2 and "holds 166 runs and would be replaced by one of 0" in err
    assert (copy / "runs.csv").read_bytes() == runs_csv
    assert _quiet(["sweep", "--report", str(copy), "--no-plots", "--force"])[0] == 0


def test_the_recorded_command_reproduces_every_value_exactly(tmp_path):
    run = RunSpec.build(
        "gan", {"data": "dirac", "method": "hsc", "steps": 2, "lr": 0.123456789, "seed": 1}
    )
    path = store_run(tmp_path, run, execute_run(run.to_json()), "grid")
    command = load_stored(tmp_path)[run.key]["command"]
    assert "--lr 0.123456789 " in command
    words = shlex.split(command)
    words[words.index("--out") + 1] = str(tmp_path / "again")
    assert _quiet(["--blas-threads", "1", *words[1:], "--no-progress"])[0] == 0
    for name in ("history.npz", "samples.npz"):
        with np.load(path / name) as a, np.load(tmp_path / "again" / name) as b:
            for key in set(a.files) - {"wall_time", "wall_time_per_step", "times_s"}:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")


CHUNK = "checkpoint-history-000000000.npz"


def _edit_checkpoint(folder: Path, change: str) -> None:
    document = json.loads((folder / "checkpoint.json").read_text())
    with np.load(folder / CHUNK) as archive:
        rows = {k: archive[k] for k in archive.files}
    if change == "steps-down":
        document["steps_completed"] = 2
    elif change == "steps-up":  # a fourth step claimed, its row empty
        document["steps_completed"] = 4
        document["history_chunks"] = [[CHUNK, 0, 4]]
        rows["history/loss"] = np.append(rows["history/loss"], np.nan)
    elif change == "extra-state-entry":
        _io.atomic_save_npz(folder / "checkpoint.npz", {"big": np.zeros(10)}, overwrite=True)
    elif change == "extra-chunk-entry":
        rows["history/other"] = np.zeros(3)
    elif change == "column-cut":
        rows["history/loss"] = rows["history/loss"][:2]
    elif change == "extra-chunk-file":
        _io.atomic_save_npz(folder / "checkpoint-history-000000003.npz", rows)
    (folder / "checkpoint.json").write_text(json.dumps(document))
    _io.atomic_save_npz(folder / CHUNK, rows, overwrite=True)


@pytest.mark.parametrize(
    "change",
    [
        "steps-down",
        "steps-up",
        "extra-state-entry",
        "extra-chunk-entry",
        "column-cut",
        "extra-chunk-file",
    ],
)
def test_a_checkpoint_edited_against_its_history_is_refused(tmp_path, change):
    history = {"loss": np.array([0.5, 0.25, 0.125, np.nan, np.nan])}
    _checkpoint.write(tmp_path, LoopProgress(3, (np.ones(2),), history), {"steps": 5})
    assert _checkpoint.read(tmp_path)[0].steps_completed == 3
    _edit_checkpoint(tmp_path, change)
    with pytest.raises(ValueError, match=r"does not match|is corrupt"):
        _checkpoint.read(tmp_path)


def test_a_checkpoint_appends_its_history_and_reads_back_whole(tmp_path):
    steps = 10**5
    history = {"loss": np.full(steps, np.nan)}
    history["loss"][:2] = [0.5, 0.25]
    first = tmp_path / "first"
    first.mkdir()
    chunks = _checkpoint.write(first, LoopProgress(2, (np.ones(2),), history), {})
    assert sum(p.stat().st_size for p in first.iterdir()) < 3000  # not 800 kB of NaN
    history["loss"][2:4] = [0.125, 0.0625]
    second = tmp_path / "second"
    second.mkdir()
    more = _checkpoint.write(
        second, LoopProgress(4, (np.ones(2),), history), {}, previous=(first, chunks)
    )
    assert [c[1:] for c in more] == [(0, 2), (2, 4)]  # the first chunk kept, one appended
    assert (second / CHUNK).stat().st_ino == (first / CHUNK).stat().st_ino  # linked, not written
    back = _checkpoint.read(second)[0].history["loss"]
    np.testing.assert_array_equal(back, history["loss"])


def test_a_checkpoint_of_the_earlier_layout_still_reads(tmp_path):
    history = {"loss": np.array([0.5, 0.25, np.nan])}
    state = (np.ones(2),)
    arrays: dict = {}
    tree = _checkpoint.encode(state, arrays)
    arrays["history/loss"] = history["loss"]  # whole columns in the state's archive
    _io.atomic_save_npz(tmp_path / "checkpoint.npz", arrays)
    document = {"format": _checkpoint.FORMAT, "steps_completed": 2, "history": ["loss"]}
    document |= {"state": tree, "facts": {}}
    (tmp_path / "checkpoint.json").write_text(json.dumps(document))
    np.testing.assert_array_equal(_checkpoint.read(tmp_path)[0].history["loss"], history["loss"])


# --------------------------------------------------------------------------- before any work


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("batch = 8", "batch = 100000000000"), "batch"),
        (("hidden = [[3]]", "hidden = [[100000000]]"), "hidden"),
        (("n_eval = 64", "n_eval = 10000000000000"), "n_eval"),
        (("sizes = [4]", "sizes = [3]"), "size must be"),
    ],
    ids=["batch", "hidden", "n_eval", "style-size"],
)
def test_sizes_are_refused_before_a_cluster_starts(tmp_path, tiny, monkeypatch, change, message):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(engine, "dask_client", no_cluster)
    spec = _spec_file(tmp_path, tiny["grid"].replace(*change))
    out = tmp_path / "out"
    status, err = _quiet(["sweep", str(spec), "--out", str(out), "--no-progress"])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_integer_beyond_the_float_range_is_one_line(tmp_path):
    spec = _spec_file(tmp_path, DIVERGING.replace("hsc = [1e308, 0.5]", f"hsc = [{10**400}]"))
    status, err = _quiet(["sweep", str(spec), "--out", str(tmp_path / "o")])
    assert status == 2 and "within the float range" in err


# --------------------------------------------------------------------------- regular files only


def _target(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "link":
        (tmp_path / "target").write_text("keep")
        path.symlink_to(tmp_path / "target")
    else:
        return Path("/dev/null")
    return path


@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "link"])
def test_only_new_or_regular_files_are_written_whatever_force_says(tmp_path, kind):
    from hsc_ref.golden import save_results

    path = _target(kind, tmp_path)
    before = os.lstat(path)
    with pytest.raises(ValueError, match="not a regular file"):
        _io.atomic_write_text(path, "x", overwrite=True)
    with pytest.raises(ValueError, match="not a regular file"):
        save_results(path, {"case/step": np.zeros(2)}, overwrite=True)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)


# --------------------------------------------------------------------------- exit statuses


def test_a_closed_stdout_keeps_the_commands_status(tmp_path):
    done = subprocess.run(
        f"{shlex.quote(sys.executable)} -m hsc_ref info >&-",
        shell=True,
        check=False,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()


def test_a_silent_scheduler_is_one_line_and_status_2_within_the_stated_time(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 1)
    monkeypatch.setattr(engine, "CONNECT_GRACE", 1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    spec = _spec_file(tmp_path, DIVERGING)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    start = time.monotonic()
    status, err = _quiet(["sweep", str(spec), "--out", str(tmp_path / "o"), "--scheduler", address])
    assert status == 2 and "no Dask scheduler answered" in err
    assert time.monotonic() - start < engine.CONNECT_TIMEOUT + engine.CONNECT_GRACE + 10
    server.close()


# --------------------------------------------------------------------------- on a real cluster


KILLED = DIVERGING.replace("steps = 3", "steps = 30\nbatch = 8").replace(
    'data = ["dirac"]', 'data = ["dirac", "ring"]\nhidden = [[3]]'
)
"""8 runs: DiracGAN and a small ring GAN, each at a diverging and a finite step size."""


def _kill_the_worker(out: Path, after: int, killed: list[int]) -> None:
    """SIGKILL the embedded cluster's worker process once ``after`` runs are stored."""
    import psutil

    deadline = time.monotonic() + 120
    while len(load_stored(out)) < after and time.monotonic() < deadline:
        time.sleep(0.01)
    for child in psutil.Process().children(recursive=True):
        words = " ".join(child.cmdline())
        if "spawn_main" in words and "resource_tracker" not in words:
            os.kill(child.pid, signal.SIGKILL)
            killed.append(child.pid)


def _tables_without_timing(folder: Path) -> dict[str, list[dict[str, str]]]:
    """``runs.csv`` and ``summary.csv`` without the columns measured while running."""
    timing = ("wall_s", "worker", "wall_time_per_step")
    tables = {}
    for name in ("runs.csv", "summary.csv"):
        with open(folder / name, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        tables[name] = [{k: v for k, v in r.items() if not k.startswith(timing)} for r in rows]
    return tables


def test_a_sweep_with_a_diverging_point_and_a_killed_worker_finishes_and_reports_both(
    tmp_path, tiny
):
    pytest.importorskip("distributed")
    spec = parse_spec(KILLED)
    planned = len(spec.grid_runs())
    out = tmp_path / "sweep"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_the_worker, args=(out, 2, killed), daemon=True)
    killer.start()
    result = run_sweep(spec, out, workers=1, progress=False, plots=False)
    killer.join(5)
    lost: dict = {}
    stored = load_stored(out, lost=lost)
    assert killed, "no worker was killed"
    assert lost and all("worker died" in r["reason"] for r in lost.values())
    assert sum(r["status"] == "diverged" for r in stored.values()) >= 1
    assert result.report.stored == planned - len(lost) == len(stored)
    assert result.report.lost == len(lost)
    summary = (out / "summary.md").read_text()
    assert f"{len(lost)} lost with their worker" in summary
    rows = (out / "runs.csv").read_text()
    assert rows.count(",lost,") == len(lost) and ",diverged," in rows
    again = run_sweep(spec, out, workers=1, progress=False, plots=False)  # retries the lost
    assert (again.executed, again.skipped) == (len(lost), planned - len(lost))
    assert len(load_stored(out)) == planned and "lost" not in (out / "summary.md").read_text()
    reference = tmp_path / "uninterrupted"  # the same runs computed here, never killed
    tiny["in_process"](spec, reference)
    write_report(reference, plots=False)
    assert _tables_without_timing(out) == _tables_without_timing(reference)


def test_golden_check_json_refuses_a_device_even_with_force(tmp_path):
    from hsc_ref import golden

    cases = ["matrix_exact_zeros"]
    assert _quiet(["golden", "write", str(tmp_path / "gold"), "--only", *cases])[0] == 0
    gold = golden.read_golden(tmp_path / "gold")
    results = {f"{c}/{o}": v for c in gold.cases for o, v in gold.cases[c].outputs.items()}
    path = golden.save_results(tmp_path / "r.npz", results)
    words = ["golden", "check", str(tmp_path / "gold"), str(path), "--only", *cases]
    status, err = _quiet([*words, "--json", "/dev/null", "--force"])
    assert status == 2 and "/dev/null is a character device, not a regular file" in err


# --------------------------------------------------------------------------- the cluster's faults


class _FakeClient:
    def __init__(self, versions=None, workers=None, fails=False):
        self.versions, self.workers, self.fails = versions, workers, fails

    def run(self, function):
        return self.versions

    def scheduler_info(self):
        if self.fails:
            raise OSError("connection closed")
        return {"workers": self.workers}


def test_a_worker_of_another_version_is_refused_before_any_run():
    client = _FakeClient(versions={"tcp://w:1": "0.0.1", "tcp://w:2": engine.__version__})
    with pytest.raises(engine.ClusterError, match=r"worker tcp://w:1 runs hsc_ref 0\.0\.1"):
        engine._check_versions(client)
    engine._check_versions(_FakeClient(versions={"tcp://w:2": engine.__version__}))


def test_a_run_from_a_worker_of_another_version_is_refused_with_status_2(tmp_path):
    run = RunSpec.build("gan", {"data": "dirac", "method": "hsc", "steps": 2, "seed": 0})
    payload = execute_run(run.to_json()) | {"hsc_ref_version": "0.0.1"}
    with pytest.raises(engine.ClusterError, match="install the same version"):
        store_run(tmp_path, run, payload, "grid")
    assert isinstance(engine.ClusterError("x"), OSError)  # the command line: exit status 2


def test_a_cluster_without_workers_or_scheduler_stops_within_the_stated_time():
    alone = _FakeClient(workers={})
    since = engine._watch_workers(alone, None, pending=3)
    assert since is not None and engine._watch_workers(alone, since, pending=3) == since
    with pytest.raises(engine.ClusterError, match="no Dask worker has been connected for 60 s"):
        engine._watch_workers(alone, since - engine.WORKER_WAIT - 1, pending=3)
    assert engine._watch_workers(_FakeClient(workers={"w": {}}), since, pending=3) is None
    with pytest.raises(engine.ClusterError, match="stopped answering"):
        engine._watch_workers(_FakeClient(fails=True), None, pending=1)


def test_a_run_stored_before_records_listed_their_files_still_counts(diverged, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(diverged, copy)
    key = next(k for k, r in load_stored(copy).items() if r["status"] == "finished")
    record = json.loads((copy / "runs" / key / RUN_FILE).read_text())
    for name in ("files", "status", "steps_completed", "reason"):
        del record[name]
    (copy / "runs" / key / RUN_FILE).write_text(json.dumps(record))
    assert load_stored(copy)[key]["status"] == "finished"
    (copy / "runs" / key / "samples.npz").write_bytes(b"changed")  # still checked
    assert key not in load_stored(copy)


def test_the_report_of_the_current_folder_can_be_rebuilt(diverged, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(diverged, copy)
    monkeypatch.chdir(copy)
    assert _quiet(["sweep", "--report", ".", "--no-plots"])[0] == 0
    assert not list(tmp_path.glob(".copy.lock"))  # the lock goes with the writer


def test_runs_side_by_side_are_checked_together(monkeypatch):
    from hsc_ref import _limits

    spec = parse_spec(DIVERGING)
    engine.check_run_sizes(spec, at_once=2)  # tiny: fits
    monkeypatch.setattr(_limits._backend, "available_memory", lambda: 10**7)
    engine.check_run_sizes(spec)  # one DiracGAN run fits in 10 MB
    with pytest.raises(MemoryError, match="--workers 100000 runs at once of gan dirac hsc"):
        engine.check_run_sizes(spec, at_once=100_000)
