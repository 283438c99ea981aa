"""Kill a training run at random points: a reader finds a complete set or nothing complete,
never a mix, and resuming gives the uninterrupted outputs bit for bit.

Each trial runs ``hsc_ref.lab.gan_run.run_to_folder`` in a subprocess (checkpointing every
step, so that kills land in commits as well as between them) and kills it with SIGKILL after
a random delay from a seeded generator; then it reads the folder as any reader would. A
bounded number of trials keeps the test to about half a minute. A last test sends a real
Ctrl-C to ``hsc-ref gan`` and checks the one line and the exit status 130.
"""

from __future__ import annotations

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
from hsc_ref.lab.gan_run import OUTPUT_FILES

STEPS = 100
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
DRIVER = """
import sys
from hsc_ref.lab.gan_run import run_to_folder
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


def _kill_at(proc: subprocess.Popen, out: Path, step: int, rng: random.Random, seed: int) -> None:
    """Kill once the run in ``out`` (of ``seed``) has checkpointed ``step``, a moment later;
    ``step`` 0: at a random moment of its start-up, before anything is written."""
    deadline = time.monotonic() + 120
    while step and proc.poll() is None and time.monotonic() < deadline:
        try:
            manifest = _outputs.read_manifest(out)
            facts = json.loads((out / "checkpoint.json").read_text())["facts"]
        except (_outputs.IncompleteSetError, OSError, ValueError):
            manifest = facts = None  # nothing yet, or the previous run's complete set
        if manifest and facts and facts["config"]["seed"] == seed:
            if manifest["steps_completed"] >= step:
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


def test_a_killed_force_run_leaves_the_old_set_or_the_new_one_never_a_mix(tmp_path):
    rng = random.Random(5)
    out = tmp_path / "run"
    _finish(out, seed=0, every=0)
    old = {name: (out / name).read_bytes() for name in OUTPUT_FILES}
    for step in (0, rng.randrange(1, STEPS)):  # before the new run's first commit, then after
        _kill_at(_start(out, seed=1, force=True), out, step, rng, seed=1)
        manifest = _read(out)
        assert manifest is not None  # --force exchanges the sets: the folder is never absent
        if manifest["status"] == "complete":  # the old set, untouched
            assert {name: (out / name).read_bytes() for name in OUTPUT_FILES} == old
        else:  # the new run's checkpoint, nothing of the old set beside it
            facts = json.loads((out / "checkpoint.json").read_text())["facts"]
            assert facts["config"]["seed"] == 1 and manifest["steps_completed"] >= step


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
