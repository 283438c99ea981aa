"""Exit statuses of ``hsc-ref`` (``hsc_ref.cli.EXIT_CODES``), one table of cases.

Every refused input ends with status 2 and exactly one line on stderr that names the option
or the file (no traceback); a bug ends with 3 and keeps its traceback, a ``TypeError`` from
inside included (the boundary refuses bad input as ``ValueError``); Ctrl-C ends with 130;
a reader that closes stdout early (``| head``) ends with 141 and no message.
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from hsc_ref import cli
from hsc_ref.cli import EXIT_CODES, main
from hsc_ref.lab import _outputs

ROOT = Path(__file__).resolve().parents[1]


def _matrix(folder: Path) -> str:
    path = folder / "H.npy"
    np.save(path, np.diag([2.0, 0.0, -1.0]))
    return str(path)


def _nonsymmetric(folder: Path) -> str:
    path = folder / "A.npy"
    np.save(path, np.triu(np.ones((3, 3))))
    return str(path)


GAN = ["gan", "--no-plots", "--no-progress", "--steps", "1", "--hidden", "2", "--batch", "4"]

# (id, argv with M = a symmetric .npy, A = a non-symmetric one, O = a fresh output folder,
#  the expected status, a regex the one line on stderr must match)
REFUSALS = [
    ("only-twice", ["demo", "--only", "core", "core"], r"--only must name each value once"),
    ("seed-negative", [*GAN, "--seed", "-1", "--out", "O"], r"--seed must be a non-negative"),
    ("style-seed", ["style", "--seed", "-2", "--out", "O"], r"--seed must be a non-negative"),
    ("golden-seed", ["golden", "write", "O", "--seed", "-1"], r"--seed must be a non-negative"),
    ("not-an-int", [*GAN, "--n-eval", "1e9", "--out", "O"], r"argument --n-eval: invalid int"),
    ("option-named", [*GAN, "--n-eval", "0", "--out", "O"], r"--n-eval must be a positive"),
    ("unknown-option", ["correct", "M", "--out", "O", "--nope"], r"unrecognized arguments"),
    ("missing-file", ["correct", "nowhere.npy", "--out", "O"], r"H file nowhere\.npy does not"),
    ("out-empty", ["correct", "M", "--out", ""], r"--out must name a folder, got an empty string"),
    ("resume-nothing", [*GAN, "--resume", "--out", "O"], r"--resume: .* holds no run to continue"),
    (
        "asymmetric",
        ["correct", "A", "--out", "O"],
        r"raise --symmetry-rtol if the asymmetry is rounding",
    ),
    (
        "missing-param",
        ["correct", "M", "--method", "damped", "--out", "O"],
        r"correction 'damped' needs the parameter mu \(--param mu=VALUE\)$",
    ),
    (
        "unknown-param",
        ["correct", "M", "--method", "clip", "--param", "mu=1", "--out", "O"],
        r"correction 'clip' takes delta, got the parameter mu$",
    ),
    (
        "param-twice",
        ["correct", "M", "--method", "clip", "--param", "delta=1", "--param", "delta=1"],
        r"--param must name each value once, got 'delta=1' twice",
    ),
]


@pytest.mark.parametrize(
    ("argv", "message"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_refused_input_exits_2_with_one_line_naming_the_option(tmp_path, capsys, argv, message):
    names = {"M": _matrix(tmp_path), "A": _nonsymmetric(tmp_path), "O": str(tmp_path / "out")}
    argv = [names.get(a, a) for a in argv]
    if "--out" not in argv and argv[0] == "correct":
        argv += ["--out", names["O"]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hsc-ref"), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_the_symmetry_tolerance_the_message_suggests_is_an_option(tmp_path):
    argv = ["correct", _nonsymmetric(tmp_path), "--symmetry-rtol", "2", "--out"]
    assert main([*argv, str(tmp_path / "out")]) == 0


def _raising(exc: BaseException):
    def run(args):
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        (MemoryError("the eigh of n = 99 needs about 9 GiB"), 2, r"error: the eigh of n = 99"),
        (FloatingPointError("the step overflows"), 2, r"error: the step overflows"),
        (KeyError("bug"), 3, r"internal error \(KeyError\): a bug in hsc_ref"),
        (TypeError("f() got an unexpected keyword 'copy'"), 3, r"internal error \(TypeError\)"),
        (ZeroDivisionError("bug"), 3, r"internal error \(ZeroDivisionError\)"),
        (KeyboardInterrupt(), 130, r"^hsc-ref info: interrupted$"),
    ],
    ids=[
        "own-memory-refusal",
        "unrepresentable",
        "key-error",
        "type-error",
        "zero-division",
        "ctrl-c",
    ],
)
def test_each_way_out_has_its_status(monkeypatch, capsys, exc, status, message):
    monkeypatch.setattr(cli, "_cmd_info", _raising(exc))
    assert main(["info"]) == status
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert re.search(message, last), err
    assert ("Traceback" in err) == (status == 3)  # kept for bugs only
    assert status in EXIT_CODES


def test_numpys_own_allocation_failure_is_not_a_refusal(monkeypatch, capsys):
    from numpy._core._exceptions import _ArrayMemoryError

    failure = _ArrayMemoryError((10**6, 10**6), np.dtype(np.float64))
    monkeypatch.setattr(cli, "_cmd_info", _raising(failure))
    assert main(["info"]) == 3  # a size hsc_ref failed to check first: a bug, with traceback
    assert "Traceback" in capsys.readouterr().err


def test_help_and_version_return_0_through_main(capsys):
    assert main(["--version"]) == 0
    assert main(["gan", "--help"]) == 0
    assert "--checkpoint-every" in capsys.readouterr().out


def test_a_closed_stdout_ends_quietly_with_141_after_a_complete_set(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "hsc_ref", *GAN, "--n-eval", "10", "--out", str(out)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        proc.stdout.close()  # like `| head` that has read what it wanted
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=120)
    assert status == 141, err
    assert err == ""
    assert _outputs.verify_set(out, command="gan")["status"] == "complete"


def test_usage_md_documents_every_exit_status():
    text = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    for status in EXIT_CODES:
        assert re.search(rf"^\| {status} \|", text, flags=re.MULTILINE), status


# --------------------------------------------------------------------------- limits before work


def _png_header(width: int, height: int) -> bytes:
    """A PNG of a header only: tiny on disk, ``width x height`` RGB pixels when decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _lying_npy(folder: Path) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((0, 0)))
    path = folder / "H.npy"
    path.write_bytes(buffer.getvalue().replace(b"(0, 0)", b"(100000, 100000)"))
    return str(path)


def _png(folder: Path, width: int, height: int) -> str:
    pytest.importorskip("PIL")  # Pillow's own decompression limit is what these cases check
    path = folder / f"big{width}.png"
    path.write_bytes(_png_header(width, height))
    return str(path)


LIMITS = [
    ("gan-hidden", lambda d: [*GAN, "--hidden", "100000"], r"--hidden = \(100000,\) \(the exact"),
    ("gan-batch", lambda d: [*GAN, "--batch", str(10**9)], r"--batch = 1000000000 \(each batch"),
    ("gan-steps", lambda d: [*GAN, "--steps", str(10**12)], r"--steps = 10+ \(the per-step hist"),
    ("gan-n-eval", lambda d: [*GAN, "--n-eval", str(10**10)], r"--n-eval = 10+ \(the evaluation"),
    (
        "style-size-memory",
        lambda d: ["style", "--method", "lbfgs", "--size", "100000"],
        r"--size = 100000 \(30000000000 unknowns\) needs about [\d.e+]+ GiB, more than the avail",
    ),
    (
        "style-size-dense",
        lambda d: ["style", "--size", "2000"],
        r"--size = 2000 gives 12000000 unknowns; a dense pixel Hessian \(method 'hsc'\) takes at "
        r"most 768",
    ),
    (
        "png-bomb",
        lambda d: ["style", "--content", _png(d, 100000, 100000)],
        r"is too large to decode: Image size \(10000000000 pixels\) exceeds limit",
    ),
    (
        "png-beyond-pillows-limit",
        lambda d: ["style", "--style", _png(d, 12000, 12000)],
        r"is too large to decode: Image size \(144000000 pixels\) exceeds limit of 89478485",
    ),
    (
        "npy-header",
        lambda d: ["correct", _lying_npy(d)],
        r"H file .* is truncated or corrupt: its header says shape \(100000, 100000\)",
    ),
]


@pytest.mark.parametrize("make", [c[1] for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_sizes_are_refused_before_any_work(tmp_path, capsys, make):
    message = next(c[2] for c in LIMITS if c[1] is make)
    argv = [*make(tmp_path), "--out", str(tmp_path / "out")]
    start = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - start < 5.0  # refused from the sizes, not after the work
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert not (tmp_path / "out").exists()


def test_a_results_entry_claiming_1e10_elements_is_refused_by_golden_check(tmp_path, capsys):
    golden = tmp_path / "golden"
    assert main(["golden", "write", str(golden), "--only", "matrix_spd"]) == 0
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((0,)))
    claim = buffer.getvalue().replace(b"(0,)", b"(10000000000,)")
    results = tmp_path / "results.npz"
    with zipfile.ZipFile(results, "w") as archive:
        archive.writestr("matrix_spd/step.npy", claim)
    capsys.readouterr()
    assert main(["golden", "check", str(golden), str(results)]) == 2  # not 1: nothing was checked
    err = capsys.readouterr().err
    assert re.search(
        r"entry 'matrix_spd/step' is corrupt: its header says shape \(10000000000,", err
    )
    (tmp_path / "folder.npz").mkdir()
    assert main(["golden", "check", str(golden), str(tmp_path / "folder.npz")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"results file .*folder\.npz is a folder, not an \.npz file", err), err
