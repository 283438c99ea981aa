"""Output sets (``hsc_ref.lab._outputs``): a folder appears complete or not at all, ``--force``
replaces it as a whole, nothing but the set's own files is ever replaced, and of two writers
one wins and the other fails with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsc_ref.cli import main
from hsc_ref.lab import _outputs
from hsc_ref.lab._gan_run import OUTPUT_FILES, PLOT_FILES

NAMES = ("a.txt", "b.txt")


def _write(out: Path, text: str, *, overwrite: bool = False, files=NAMES) -> Path:
    with _outputs.OutputSet(out, NAMES, command="test", overwrite=overwrite) as outputs:
        stage = outputs.staging()
        for name in files:
            (stage / name).write_text(f"{text} {name}")
        return outputs.commit("complete", {"steps_completed": 1})


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_set_appears_with_its_manifest_and_verifies(tmp_path):
    out = _write(tmp_path / "run", "one")
    assert _listing(out) == ["a.txt", "b.txt", "manifest.json"]
    manifest = _outputs.verify_set(out, command="test")
    assert manifest["status"] == "complete" and manifest["steps_completed"] == 1
    assert _listing(tmp_path) == ["run"]  # no staging folder, no lock file left behind


def test_force_replaces_the_whole_set_and_no_file_of_the_old_one_survives(tmp_path):
    out = _write(tmp_path / "run", "one")
    with pytest.raises(FileExistsError, match=r"a\.txt, .*b\.txt exist; pass --force"):
        _write(out, "two", files=("a.txt",))
    assert (out / "a.txt").read_text() == "one a.txt"  # refused: nothing changed
    _write(out, "two", overwrite=True, files=("a.txt",))
    assert _listing(out) == ["a.txt", "manifest.json"]  # b.txt of the old set is gone
    assert (out / "a.txt").read_text() == "two a.txt"


def test_a_failure_before_the_commit_leaves_the_previous_set_untouched(tmp_path):
    out = _write(tmp_path / "run", "one")
    before = {name: (out / name).read_bytes() for name in _listing(out)}
    with pytest.raises(RuntimeError, match="disk full"):
        with _outputs.OutputSet(out, NAMES, command="test", overwrite=True) as outputs:
            (outputs.staging() / "a.txt").write_text("half")
            raise RuntimeError("disk full")
    assert {name: (out / name).read_bytes() for name in _listing(out)} == before
    assert _listing(tmp_path) == ["run"]  # the staging folder was removed


@pytest.mark.parametrize(
    ("make", "out", "message"),
    [
        (None, "", r"--out must name a folder, got an empty string"),
        (None, ".", r"--out must not be the current folder or one above it"),
        (None, "..", r"--out must not be the current folder or one above it"),
        (
            lambda d: (d / "f").write_text("x"),
            "f",
            r"--out must be a folder, got the existing file",
        ),
        (lambda d: (d / "l").symlink_to(d), "l", r"--out must be a folder, got the symbolic link"),
        (
            lambda d: ((d / "o").mkdir(), (d / "o" / "mine.npy").write_text("x")),
            "o",
            r"holds files that are not outputs of hsc-ref test \(mine\.npy\); the output set "
            r"replaces its folder as a whole",
        ),
    ],
    ids=["empty", "cwd", "parent", "file", "symlink", "foreign-files"],
)
def test_folders_a_set_must_not_replace_are_refused(tmp_path, monkeypatch, make, out, message):
    monkeypatch.chdir(tmp_path)
    if make is not None:
        make(tmp_path)
    with pytest.raises((ValueError, FileExistsError), match=message):
        _write(Path(out) if out else out, "x", overwrite=True)


def test_an_existing_empty_folder_is_used(tmp_path):
    (tmp_path / "run").mkdir()
    assert _listing(_write(tmp_path / "run", "one")) == ["a.txt", "b.txt", "manifest.json"]


def test_a_second_writer_fails_at_once_while_the_first_holds_the_folder(tmp_path):
    out = tmp_path / "run"
    with _outputs.OutputSet(out, NAMES, command="test"):
        with pytest.raises(_outputs.ConcurrentWriterError, match=r"another hsc-ref run is writ"):
            _write(out, "two", overwrite=True)
    assert not out.exists()


def test_a_folder_changed_behind_the_set_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    with _outputs.OutputSet(out, NAMES, command="test") as outputs:
        (outputs.staging() / "a.txt").write_text("mine")
        out.mkdir()  # another program (without the lock) wrote the folder meanwhile
        (out / "a.txt").write_text("theirs")
        with pytest.raises(_outputs.ConcurrentWriterError, match=r"written by another run"):
            outputs.commit()
    assert (out / "a.txt").read_text() == "theirs"


def test_tampered_sets_fail_verification(tmp_path):
    out = _write(tmp_path / "run", "one")
    (out / "a.txt").write_text("edited")
    with pytest.raises(_outputs.IncompleteSetError, match=r"a\.txt differs from its manifest"):
        _outputs.verify_set(out)
    (out / "a.txt").unlink()
    with pytest.raises(_outputs.IncompleteSetError, match=r"missing \['a\.txt'\]"):
        _outputs.verify_set(out)
    (out / "manifest.json").unlink()
    with pytest.raises(_outputs.IncompleteSetError, match=r"has no manifest\.json"):
        _outputs.verify_set(out)


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    stale = tmp_path / ".run.tmp-dead"
    stale.mkdir()
    (stale / "a.txt").write_text("half")
    _write(tmp_path / "run", "one")
    assert _listing(tmp_path) == ["run"]


# --------------------------------------------------------------------------- the commands


GAN = ["gan", "--steps", "2", "--hidden", "2", "--batch", "4", "--n-eval", "10", "--no-progress"]


def test_gan_force_without_plots_leaves_no_plot_of_the_previous_run(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert main([*GAN, "--out", str(out)]) == 0
    assert set(PLOT_FILES) <= set(_listing(out))
    assert main([*GAN, "--out", str(out), "--force", "--no-plots", "--seed", "3"]) == 0
    assert _listing(out) == sorted([*OUTPUT_FILES, "manifest.json"])
    _outputs.verify_set(out, command="gan")


def test_correct_force_over_a_broken_set_replaces_it_whole(tmp_path):
    np.save(tmp_path / "H.npy", np.diag([2.0, 0.0]))
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)  # a set whose summary.json is a folder
    assert main(["correct", str(tmp_path / "H.npy"), "--out", str(out)]) == 2
    assert main(["correct", str(tmp_path / "H.npy"), "--out", str(out), "--force"]) == 0
    manifest = _outputs.verify_set(out, command="correct")
    assert sorted(manifest["files"]) == ["correction.npz", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["rank_before"] == 1


def test_two_concurrent_correct_force_runs_leave_one_whole_set(tmp_path):
    """Both start at once; at the end the folder is one run's set, verified, never a mix."""
    np.save(tmp_path / "H1.npy", np.diag([2.0, 0.0]))
    np.save(tmp_path / "H2.npy", np.diag([3.0, 1.0, 0.0]))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hsc_ref",
                "correct",
                str(tmp_path / f"H{i}.npy"),
                "--out",
                str(out),
                "--force",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in (1, 2)
    ]
    results = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    for status, err in results:
        assert status == 0 or (status == 2 and "another hsc-ref run is writing" in err), err
    manifest = _outputs.verify_set(out, command="correct")
    summary = json.loads((out / "summary.json").read_text())
    with np.load(out / "correction.npz", allow_pickle=False) as data:
        assert data["corrected"].shape == (summary["n"], summary["n"])  # one run's files
    assert sorted(manifest["files"]) == ["correction.npz", "summary.json"]
