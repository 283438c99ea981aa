"""Kill a training run at random points: a reader finds a complete set or nothing complete,
never a mix, and resuming gives the uninterrupted outputs bit for bit.

Each trial runs ``hsc_ref.lab._gan_run.run_to_folder`` in a subprocess (checkpointing every
step, so that kills land in commits as well as between them) and kills it with SIGKILL after
a random delay from a seeded generator; then it reads the folder as any reader would. A
bounded number of trials keeps the test to about half a minute. A last test sends a real
Ctrl-C to ``hsc-ref gan`` and checks the one line and the exit status 130.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hsc_ref.lab import _checkpoint, _outputs
from hsc_ref.lab._gan_run import OUTPUT_FILES

STEPS = 100
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
DRIVER = """
import sys
from hsc_ref.lab._gan_run import run_to_folder
from hsc_ref.gan.train import TrainConfig
out, seed, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[5])
resume, force = sys.argv[3] == "1", sys.argv[4] == "1"
config = TrainConfig(data="ring", method="hsc", steps=STEPS, hidden=(4,), batch=8, n_eval=50,
                     seed=seed)
run_to_folder(config, out, plots=False, checkpoint_every=every, resume=resume, overwrite=force)
""".replace("STEPS", str(STEPS))


def _start(out: Path, seed: int = 0, *, resume: bool = False, force: bool = False, every: int = 1):
    flags = ["1" if resume else "0", "1" if force else "0", str(every)]
    command = [sys.executable, "-c", DRIVER, str(out), str(seed), *flags]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(out: Path, seed: int = 0, **flags) -> None:
    proc = _start(out, seed, **flags)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def _read(out: Path) -> dict | None:
    """What a reader sees: None (nothing), or a manifest whose files all verify."""
    if not out.exists():
        return None
    manifest = _outputs.verify_set(out, command="gan", complete=False)  # raises on any mix
    expected = OUTPUT_FILES if manifest["status"] == "complete" else _checkpoint.FILES
    chunks = [n for n in manifest["files"] if n.startswith("checkpoint-history-")]
    assert manifest["status"] == "complete" or chunks, manifest  # a checkpoint's history
    assert sorted(set(manifest["files"]) - set(chunks)) == sorted(expected), manifest
    assert manifest["status"] in ("complete", "running"), manifest  # SIGKILL: no handler ran
    return manifest


def _same_outputs(a: Path, b: Path) -> bool:
    if any((a / n).read_bytes() != (b / n).read_bytes() for n in ("samples.npz", "matrices.npz")):
        return False
    with np.load(a / "history.npz") as ha, np.load(b / "history.npz") as hb:
        names = set(ha.files) - {"wall_time"}
        return all(np.array_equal(ha[n], hb[n], equal_nan=True) for n in names)


def _checkpointed(out: Path) -> tuple[int, int] | None:
    """(seed, steps completed) of the checkpoint in ``out``, read from one set: the manifest
    and a ``checkpoint.json`` whose SHA-256 it records. Two separate reads can straddle a
    commit (the old complete set's manifest, then the new run's first checkpoint), which
    once stopped the wait at step 2 of 80. None: no checkpoint, or the reads straddled one."""
    try:
        manifest = _outputs.read_manifest(out)
        data = (out / "checkpoint.json").read_bytes()
        recorded = manifest["files"]["checkpoint.json"]["sha256"]
    except (_outputs.IncompleteSetError, OSError, ValueError, KeyError):
        return None  # nothing yet, or the previous run's complete set
    if hashlib.sha256(data).hexdigest() != recorded:
        return None
    return json.loads(data)["facts"]["config"]["seed"], manifest["steps_completed"]


def _kill_at(proc: subprocess.Popen, out: Path, step: int, rng: random.Random, seed: int) -> None:
    """Kill once the run in ``out`` (of ``seed``) has checkpointed ``step``, a moment later;
    ``step`` 0: at a random moment of its start-up, before anything is written."""
    deadline = time.monotonic() + 120
    while step and proc.poll() is None and time.monotonic() < deadline:
        progress = _checkpointed(out)
        if progress is not None and progress[0] == seed and progress[1] >= step:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05 if step else 0.8))  # into the next step or commit
    proc.kill()
    proc.wait(timeout=60)


def test_killed_runs_leave_a_complete_set_or_nothing_and_resume_bit_for_bit(tmp_path):
    rng = random.Random(12)
    reference, out = tmp_path / "reference", tmp_path / "run"
    _finish(reference, every=0)
    targets = [0, *sorted(rng.sample(range(1, STEPS), 2))]  # start-up, then two steps
    seen = []
    for step in targets:
        before = _read(out)
        _kill_at(_start(out, resume=before is not None), out, step, rng, seed=0)
        manifest = _read(out)
        seen.append(None if manifest is None else (manifest["status"], manifest["steps_completed"]))
        if before is not None:  # progress is never lost
            assert manifest["steps_completed"] >= before["steps_completed"], seen
    assert seen[0] is None or seen[0][0] == "running", seen
    assert any(s is not None and s[0] == "running" for s in seen), seen  # kills mid-training
    _finish(out, resume=_read(out) is not None)
    assert _read(out)["status"] == "complete", seen
    assert _same_outputs(reference, out), seen


def _after_a_forced_kill(out: Path, before: dict[str, bytes], step: int) -> str:
    """What a killed ``--force`` run of seed 1 left: the set it was to replace, untouched
    (``"kept"``); its own checkpoint of at least ``step`` steps and nothing else
    (``"running"``); or its own complete set, when it finished before the kill landed
    (``"finished"``). Anything else (no set, a mix, another run's files) fails."""
    manifest = _read(out)  # every file verifies against the manifest: no mix
    assert manifest is not None  # --force exchanges the sets: the folder is never absent
    if manifest["status"] == "running":
        facts = json.loads((out / "checkpoint.json").read_text())["facts"]
        assert facts["config"]["seed"] == 1 and manifest["steps_completed"] >= step, manifest
        return "running"
    if {name: (out / name).read_bytes() for name in OUTPUT_FILES} == before:
        return "kept"
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["seed"] == 1 and manifest["steps_completed"] == STEPS, manifest
    return "finished"


def test_a_killed_force_run_leaves_the_old_set_or_the_new_one_never_a_mix(tmp_path):
    rng = random.Random(5)
    out = tmp_path / "run"
    _finish(out, seed=0, every=0)
    outcomes = {}
    for step in (0, rng.randrange(1, STEPS)):  # before the new run's first commit, then after
        # A loaded machine can let the run finish between the poll that saw its step and the
        # kill: a valid outcome, but no kill inside the run, so that trial is run again.
        for _ in range(3):
            complete = _read(out)["status"] == "complete"
            before = {n: (out / n).read_bytes() for n in OUTPUT_FILES} if complete else {}
            _kill_at(_start(out, seed=1, force=True), out, step, rng, seed=1)
            outcomes[step] = _after_a_forced_kill(out, before, step)
            if outcomes[step] != "finished":
                break
    assert outcomes[0] in ("kept", "running"), outcomes  # killed in its start-up
    assert list(outcomes.values())[1] == "running", outcomes  # killed after its step


def test_ctrl_c_writes_a_checkpoint_says_so_in_one_line_and_exits_130(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "hsc_ref", "gan", "--steps", "400", "--hidden", "4"]
    command += ["--batch", "8", "--no-plots", "--no-progress", "--checkpoint-every", "1"]
    proc = subprocess.Popen(
        [*command, "--out", str(out)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not (out / "manifest.json").exists():  # training has started
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the run ended or stalled before its first checkpoint: {proc.stderr}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    manifest = _read_unfinished(out)
    assert err.decode() == (
        f"hsc-ref gan: interrupted after step {manifest['steps_completed']} of 400; checkpoint "
        f"written to {out}; run the same command with --resume to continue\n"
    )


def _read_unfinished(out: Path) -> dict:
    manifest = _outputs.verify_set(out, command="gan", complete=False)
    assert manifest["status"] == "interrupted" and 0 < manifest["steps_completed"] < 400
    return manifest


STARTED = """
import sys

class Started:  # says (a line on stdout) when entry begins to import hsc_ref.cli
    def find_spec(self, name, path=None, target=None):
        if name == "hsc_ref.cli":
            sys.meta_path.remove(self)
            print(flush=True)

sys.meta_path.insert(0, Started())
from hsc_ref.__main__ import entry
sys.exit(entry())
"""
"""``hsc-ref`` as its script runs it, saying when Python's own start-up and the import of the
package are over and ``entry`` imports the command line: what follows is hsc_ref's, where a
Ctrl-C is handled."""

INTERRUPTED = (130, -signal.SIGINT)
"""An interrupted command's status: 130, or death by SIGINT (which a shell reports as 130
too), as CPython ends a process after a Ctrl-C raised inside code a compiled extension ran
while it was imported, even when hsc_ref handled it."""


@pytest.mark.parametrize("delay", [0.0, 0.003, 0.01, 0.03, 0.1, 0.3])
def test_ctrl_c_while_the_command_line_loads_is_one_line(delay):
    """SIGINT while ``hsc_ref.cli`` and then the gan command's modules (NumPy, SciPy,
    autograd) are imported: one line and the interrupted status, or the finished command if
    the signal came late; never a traceback, never another status."""
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTED, "gan", "--help"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"\n"  # start-up done: hsc_ref's code runs
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if err:  # interrupted
        assert err.decode() in ("hsc-ref: interrupted\n", "hsc-ref gan: interrupted\n"), err
        assert proc.returncode in INTERRUPTED, err
    else:  # the help was printed whole before the signal came (while the process exited)
        assert b"usage: hsc-ref gan" in out and proc.returncode in (0, *INTERRUPTED)


def test_an_error_raised_from_a_ctrl_c_is_an_interrupt(monkeypatch, capsys):
    """A Ctrl-C while a compiled extension initializes surfaces as its own error (SciPy's
    HiGHS module: ``ImportError: initialization failed``): an interrupt, not a refusal."""
    from hsc_ref import cli

    def interrupted_import(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(cli, "build_parser", interrupted_import)
    assert cli.main(["gan", "--help"]) == 130
    assert capsys.readouterr().err == "hsc-ref: interrupted\n"


def test_a_ctrl_c_that_an_extension_turns_into_its_own_error_is_still_an_interrupt(
    monkeypatch, capsys
):
    # NumPy, interrupted while it imports its C core, raises an ImportError that keeps nothing
    # of the KeyboardInterrupt: the command line must still say "interrupted" and exit 130
    import os

    from hsc_ref import cli

    def swallowing_import(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the signal's KeyboardInterrupt lands here
        except KeyboardInterrupt:
            pass
        raise ImportError("PyCapsule_Import could not import module 'datetime'")

    monkeypatch.setattr(cli, "_check_options", swallowing_import)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err == "hsc-ref info: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_an_error_without_a_ctrl_c_is_not_called_an_interrupt(monkeypatch, capsys):
    from hsc_ref import cli

    def failing(args):
        raise ImportError("PyCapsule_Import could not import module 'datetime'")

    monkeypatch.setattr(cli, "_check_options", failing)
    assert cli.main(["info"]) not in (0, 130)
    assert "interrupted" not in capsys.readouterr().err
