"""Checkpoints and ``resume``: an interrupted run, resumed, gives the uninterrupted result bit
for bit (wall-clock times aside), for every GAN method and every checkpointing style method;
an unfinished run's folder says so and never passes for a complete one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import scipy.optimize

from hsc_ref.gan.train import METHODS, TrainConfig, train
from hsc_ref.lab import _checkpoint, _outputs
from hsc_ref.lab import _gan_run as report
from hsc_ref.lab import _style_run as style_run
from hsc_ref.loop import LoopProgress
from hsc_ref.rules import AdamState, NewtonState
from hsc_ref.style.optimize import MatrixFreeState

WALL_CLOCK = {"wall_time", "wall_time_per_step", "times_s"}
"""Entries that record seconds: the only ones a resumed run may change."""


def _without_clock(tree):
    if isinstance(tree, dict):
        return {k: _without_clock(v) for k, v in tree.items() if k not in WALL_CLOCK}
    return tree


def _config(method: str, steps: int = 6) -> TrainConfig:
    return TrainConfig(data="ring", method=method, steps=steps, hidden=(3,), batch=8, n_eval=20)


def _assert_same_training(a, b) -> None:
    for name in ("theta", "phi", "samples"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.history.keys() == b.history.keys()
    for name in a.history.keys() - WALL_CLOCK:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    assert _without_clock(a.metrics) == _without_clock(b.metrics)


class _Stop:
    """A callback that keeps every progress and presses Ctrl-C after ``at`` completed steps."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, []

    def __call__(self, progress: LoopProgress) -> None:
        self.seen.append(progress)
        if progress.steps_completed == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("method", METHODS)
def test_every_gan_method_resumes_bit_for_bit_through_its_files(tmp_path, method):
    config = _config(method)
    stop = _Stop(4)
    with pytest.raises(KeyboardInterrupt):
        train(config, callback=stop)
    progress = stop.seen[-1]
    assert progress.steps_completed == 4
    assert np.isnan(progress.history["loss_g"][4:]).all()  # rows after the checkpoint empty
    _checkpoint.write(tmp_path, progress, {"config": report.config_facts(config)})
    back, facts = _checkpoint.read(tmp_path)  # through plain arrays and JSON, no pickles
    assert facts["config"]["method"] == config.method
    _assert_same_training(train(config), train(config, start=back))


def test_a_progress_of_a_finished_run_resumes_too(tmp_path):
    config = _config("sr1", steps=7)
    saved: list[LoopProgress] = []
    reference = train(config, callback=saved.append)
    assert [p.steps_completed for p in saved] == [1, 2, 3, 4, 5, 6, 7]
    _checkpoint.write(tmp_path, saved[2], {})  # written after the run: later rows reset
    _assert_same_training(reference, train(config, start=_checkpoint.read(tmp_path)[0]))


def test_the_lab_checkpoints_every_k_steps_before_the_last_and_keeps_the_last(tmp_path):
    config = _config("sr1", steps=7)
    commits = []
    with _outputs.OutputSet(tmp_path / "run", _checkpoint.FILES, command="gan") as outputs:
        real = outputs.commit
        outputs.commit = lambda status, extra: (
            commits.append((status, extra)) or real(status, extra)
        )
        checkpoints = _checkpoint.Checkpoints(outputs, "gan", config.steps, {}, every=3)
        train(config, callback=checkpoints)
        assert checkpoints.latest.steps_completed == 7  # kept, not written: outputs come next
        outputs.commit = real
    assert [(s, e["steps_completed"]) for s, e in commits] == [("running", 3), ("running", 6)]


def test_optimistic_resume_needs_and_keeps_the_previous_field(tmp_path):
    # the state that makes optimistic steps resumable: v_{t-1}, both players' (the joint
    # rule's state sits in the generator's slot, the discriminator's is None)
    config = _config("optimistic")
    stop = _Stop(4)
    with pytest.raises(KeyboardInterrupt):
        train(config, callback=stop)
    _checkpoint.write(tmp_path, stop.seen[-1], {})
    back = _checkpoint.read(tmp_path)[0]
    ((theta, (size, memory)), (phi, d_state)), stream = back.state
    assert d_state is None and memory.previous.shape == (theta.size + phi.size,)
    reference = train(config)
    _assert_same_training(reference, train(config, start=back))
    forgot = back._replace(
        state=(((theta, (size, memory._replace(previous=None))), (phi, None)), stream)
    )
    assert not np.array_equal(train(config, start=forgot).theta, reference.theta)


def test_checkpoints_hold_plain_data_only(tmp_path):
    strategy = scipy.optimize.SR1()
    strategy.initialize(2, "inv_hess")
    strategy.update(np.ones(2), np.array([1.0, 3.0]))
    state = (AdamState(3, np.zeros(2), np.ones(2)), NewtonState(2, None), strategy, np.float32(1.5))
    _checkpoint.write(tmp_path, LoopProgress(2, state, {}), {})
    back = _checkpoint.read(tmp_path)[0].state
    np.testing.assert_array_equal(back[2].H, strategy.H)
    assert back[0].count == 3 and back[3] == np.float32(1.5) and type(back[3]) is np.float32
    with pytest.raises(TypeError, match=r"cannot checkpoint state/0: a object is not plain data"):
        _checkpoint.write(tmp_path, LoopProgress(0, (object(),), {}), {})
    with pytest.raises(TypeError, match=r"object arrays would be pickled"):
        _checkpoint.write(tmp_path, LoopProgress(0, np.array([{}], dtype=object), {}), {})
    document = json.loads((tmp_path / "checkpoint.json").read_text())
    document["state"]["tuple"][0]["namedtuple"] = "os.system"  # its arrays stay named
    (tmp_path / "checkpoint.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"unknown state type 'os\.system'"):
        _checkpoint.read(tmp_path)


# --------------------------------------------------------------------------- gan folders


class _Bar:
    """A stand-in progress bar that presses Ctrl-C after ``at`` steps."""

    def __init__(self, at: int) -> None:
        self.at, self.n = at, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, k: int) -> None:
        self.n += k
        if self.n == self.at:
            raise KeyboardInterrupt


def _interrupting_bar(monkeypatch, at: int) -> None:
    monkeypatch.setattr(report._extras, "progress_bar", lambda *a, **k: _Bar(at))


def _same_gan_folders(a: Path, b: Path) -> None:
    for name in ("samples.npz", "matrices.npz"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with np.load(a / "history.npz") as ha, np.load(b / "history.npz") as hb:
        for name in set(ha.files) - WALL_CLOCK:
            np.testing.assert_array_equal(ha[name], hb[name], err_msg=name)
    metrics = [json.loads((f / "metrics.json").read_text()) for f in (a, b)]
    assert _without_clock(metrics[0]) == _without_clock(metrics[1])


def test_an_interrupted_gan_folder_says_so_and_resumes_to_the_same_outputs(tmp_path, monkeypatch):
    config = _config("hsc", steps=5)
    report.run_to_folder(config, tmp_path / "ref", plots=False)
    out = tmp_path / "run"
    _interrupting_bar(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt) as stop:
        report.run_to_folder(config, out, plots=False, progress=True, checkpoint_every=2)
    assert str(stop.value) == (
        f"interrupted after step 3 of 5; checkpoint written to {out}; run the same command "
        f"with --resume to continue"
    )
    manifest = _outputs.verify_set(out, command="gan", complete=False)
    assert (manifest["status"], manifest["steps_completed"], manifest["steps"]) == (
        "interrupted",
        3,
        5,
    )
    assert sorted(manifest["files"]) == [  # the history of steps 0-1, then 2 appended
        "checkpoint-history-000000000.npz",
        "checkpoint-history-000000002.npz",
        "checkpoint.json",
        "checkpoint.npz",
    ]
    with pytest.raises(_outputs.IncompleteSetError, match=r"unfinished run \(interrupted, steps"):
        _outputs.verify_set(out)  # never passes for a complete run
    with pytest.raises(FileExistsError, match=r"holds an unfinished run .* --resume"):
        report.run_to_folder(config, out, plots=False)
    monkeypatch.undo()
    report.run_to_folder(config, out, plots=False, resume=True)
    assert _outputs.verify_set(out, command="gan")["status"] == "complete"
    _same_gan_folders(tmp_path / "ref", out)


def test_ctrl_c_while_writing_the_outputs_keeps_the_finished_training(tmp_path, monkeypatch):
    config = _config("adam", steps=4)
    report.run_to_folder(config, tmp_path / "ref", plots=False)
    real = report.final_matrices
    monkeypatch.setattr(
        report, "final_matrices", lambda r: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt, match=r"after step 4 of 4; checkpoint written"):
        report.run_to_folder(config, tmp_path / "run", plots=False)
    monkeypatch.setattr(report, "final_matrices", real)
    report.run_to_folder(config, tmp_path / "run", plots=False, resume=True)
    _same_gan_folders(tmp_path / "ref", tmp_path / "run")


def test_a_failure_after_a_checkpoint_marks_it_failed_and_it_resumes(tmp_path, monkeypatch):
    config = _config("sgd", steps=4)
    monkeypatch.setattr(report, "final_matrices", lambda r: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        report.run_to_folder(config, tmp_path / "run", plots=False, checkpoint_every=2)
    manifest = _outputs.read_manifest(tmp_path / "run")
    assert (manifest["status"], manifest["steps_completed"]) == ("failed", 4)
    monkeypatch.undo()
    report.run_to_folder(config, tmp_path / "run", plots=False, resume=True)
    report.run_to_folder(config, tmp_path / "ref", plots=False)
    _same_gan_folders(tmp_path / "ref", tmp_path / "run")


class _FailingBatch:
    """``sample`` of the GAN loop that raises ``OverflowError`` at its ``at``-th call (the
    batch of step ``at - 1``), as an overflow inside a step would."""

    def __init__(self, at: int) -> None:
        self.at, self.calls, self.real = at, 0, report.train.__globals__["sample"]

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise OverflowError("the batch overflowed")
        return self.real(*args, **kwargs)


def test_a_failed_step_without_checkpoints_records_the_step_reached_and_resumes(
    tmp_path, monkeypatch
):
    config = _config("sgd", steps=5)
    globals_of_train = report.train.__globals__
    monkeypatch.setitem(globals_of_train, "sample", _FailingBatch(3))
    with pytest.raises(OverflowError) as info:
        report.run_to_folder(config, tmp_path / "run", plots=False)  # no --checkpoint-every
    assert info.value.steps_completed == 2  # set by the loop: steps 0 and 1 completed
    manifest = _outputs.read_manifest(tmp_path / "run")
    assert (manifest["status"], manifest["steps_completed"]) == ("failed", 2)
    assert manifest["reason"] == "OverflowError: the batch overflowed"
    monkeypatch.undo()
    report.run_to_folder(config, tmp_path / "run", plots=False, resume=True)
    report.run_to_folder(config, tmp_path / "ref", plots=False)
    _same_gan_folders(tmp_path / "ref", tmp_path / "run")


def test_a_failed_forced_run_keeps_the_complete_set_it_was_to_replace(tmp_path, monkeypatch):
    config = _config("sgd", steps=4)
    report.run_to_folder(config, tmp_path / "run", plots=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    monkeypatch.setitem(report.train.__globals__, "sample", _FailingBatch(2))
    with pytest.raises(OverflowError):
        report.run_to_folder(config, tmp_path / "run", plots=False, overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before


def test_resume_refuses_other_settings_a_complete_run_and_an_empty_folder(tmp_path, monkeypatch):
    config = _config("hsc", steps=4)
    _interrupting_bar(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        report.run_to_folder(config, tmp_path / "run", plots=False, progress=True)
    other = TrainConfig(**{**vars(config), "seed": 7, "steps": 9})
    message = r"started with seed=0, steps=4, but this command asks for seed=7, steps=9: repeat"
    with pytest.raises(ValueError, match=message):
        report.run_to_folder(other, tmp_path / "run", plots=False, resume=True)
    monkeypatch.undo()
    report.run_to_folder(config, tmp_path / "run", plots=False, resume=True)
    with pytest.raises(ValueError, match=r"holds a complete run, nothing to continue"):
        report.run_to_folder(config, tmp_path / "run", plots=False, resume=True)
    with pytest.raises(ValueError, match=r"holds no run to continue; start it without --resume"):
        report.run_to_folder(config, tmp_path / "new", plots=False, resume=True)


# --------------------------------------------------------------------------- style folders


def _interrupting_style_bar(monkeypatch, at: int) -> None:
    class Bar(_Bar):
        def set_postfix(self, **_):
            pass

        def close(self):
            pass

    monkeypatch.setattr(style_run._extras, "progress_bar", lambda *a, **k: Bar(at))


STYLE = {"size": 4, "steps": 4, "plots": False}


@pytest.mark.parametrize(
    ("method", "extra"),
    [("hsc", {"line_search": True}), ("adam", {}), ("hsc_cg", {"steps": 3})],  # CG: slow HVPs
)
def test_style_methods_resume_bit_for_bit(tmp_path, monkeypatch, method, extra):
    options = {**STYLE, "method": method, **extra}
    style_run.run_to_folder(tmp_path / "ref", **options)
    _interrupting_style_bar(monkeypatch, 2)  # Ctrl-C as the bar shows the second step
    stop = f"after step 2 of {options['steps']}; checkpoint written"
    with pytest.raises(KeyboardInterrupt, match=stop):
        style_run.run_to_folder(tmp_path / "run", progress=True, checkpoint_every=1, **options)
    assert _outputs.read_manifest(tmp_path / "run")["status"] == "interrupted"
    monkeypatch.undo()
    style_run.run_to_folder(tmp_path / "run", resume=True, **options)
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert (ref / "result.npy").read_bytes() == (run / "result.npy").read_bytes()
    metrics = [json.loads((f / "metrics.json").read_text()) for f in (ref, run)]
    assert _without_clock(metrics[0]) == _without_clock(metrics[1])  # losses, evaluations too


def test_lbfgs_keeps_no_checkpoint_and_says_so(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"lbfgs runs keep no checkpoint"):
        style_run.run_to_folder(tmp_path / "run", method="lbfgs", resume=True, **STYLE)
    _interrupting_style_bar(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt, match=r"lbfgs runs keep no checkpoint .* nothing was"):
        style_run.run_to_folder(tmp_path / "run", method="lbfgs", progress=True, **STYLE)
    assert not (tmp_path / "run").exists()


class _Outside(NamedTuple):
    count: int


def test_any_namedtuple_state_of_the_package_checkpoints_without_registering(tmp_path):
    # a new rule state (here the matrix-free style rule's) needs no edit of the serializer
    state = (MatrixFreeState(7, 2, 0.1), np.arange(3.0))
    _checkpoint.write(tmp_path, LoopProgress(1, state, {}), {})
    back, array = _checkpoint.read(tmp_path)[0].state
    assert type(back) is MatrixFreeState and back == state[0]  # 0.1 exactly (float.hex)
    np.testing.assert_array_equal(array, state[1])
    with pytest.raises(TypeError, match=r"_Outside is not a NamedTuple class defined .* hsc_ref"):
        _checkpoint.write(tmp_path, LoopProgress(0, (_Outside(1),), {}), {})
    # a state of numbers only, so that the edited JSON still names every entry of the npz
    for old in tmp_path.iterdir():
        old.unlink()
    _checkpoint.write(tmp_path, LoopProgress(0, MatrixFreeState(7, 2, 0.1), {}), {})
    document = json.loads((tmp_path / "checkpoint.json").read_text())
    for name in ("hsc_ref.loop:run_loop", "hsc_ref.rules:NoSuchState", "tests:_Outside"):
        document["state"] = {"namedtuple": name, "fields": {}}
        (tmp_path / "checkpoint.json").write_text(json.dumps(document))
        with pytest.raises(ValueError, match=r"unknown state type"):
            _checkpoint.read(tmp_path)
