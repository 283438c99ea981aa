"""``benchmarks/threads.py`` and ``benchmarks/blas_sizes.py``: arguments, records, clean-up.

Their timings are measurements (``docs/experiments.md``, "Threads"), not tested; the quick
versions of both run in ``tests/test_doc_tables.py``. Here: bad options are refused by name,
an existing record is kept unless ``--force``, a record is written whole, exit statuses
(also a death by signal) are recorded as they are, and the competing load stops when its
block ends, also on an error.
"""

from __future__ import annotations

import doctest
import json
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _benchmark_modules():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import blas_sizes
        import threads
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return threads, blas_sizes


threads, blas_sizes = _benchmark_modules()


@pytest.mark.parametrize(
    ("module", "arguments", "message"),
    [
        (threads, ["--repeats", "0"], "must be an integer >= 1, got 0"),
        (threads, ["--steps", "-3"], "must be an integer >= 1, got -3"),
        (threads, ["--warmups", "-1"], "must be an integer >= 0, got -1"),
        (threads, ["--settings", "4"], "invalid choice: '4'"),
        (threads, ["--beside", "busy"], "invalid choice: 'busy'"),
        (blas_sizes, ["--sizes", "0"], "must be between 1 and 20000, got 0"),
        (blas_sizes, ["--sizes", "100", "30000"], "must be between 1 and 20000, got 30000"),
        (blas_sizes, ["--samples", "0"], "must be a positive integer, got 0"),
        (blas_sizes, ["--work", "0"], "must be a positive number, got 0"),
    ],
)
def test_bad_options_are_refused_by_name(module, arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        module.main(arguments)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert arguments[0] in error and message in error


@pytest.mark.parametrize("module", [threads, blas_sizes])
def test_an_existing_record_is_kept_without_force(module, tmp_path):
    record = tmp_path / "record.json"
    record.write_text("mine\n")
    with pytest.raises(SystemExit, match=f"--record {record} exists; give --force"):
        module.main(["--record", str(record)])  # refused before anything is measured
    assert record.read_text() == "mine\n"


def test_a_record_is_written_whole(tmp_path):
    path = tmp_path / "new" / "record.json"
    threads.write_record(path, {"runs": [1, 2]})
    assert json.loads(path.read_text()) == {"runs": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no partial file left


def test_exit_statuses_are_recorded_as_they_are(tmp_path):
    with (tmp_path / "log").open("w+") as log:
        failed = threads.time_command([sys.executable, "-c", "raise SystemExit(3)"], log)
        killed = threads.time_command(
            [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
            log,
        )
    assert failed[3] == 3 and failed[0] > 0 and failed[1] >= 0
    assert killed[3] == -signal.SIGKILL


def test_the_load_stops_when_its_block_ends_also_on_an_error():
    with pytest.raises(ZeroDivisionError), threads.competing_load(settle_s=0.2) as pid:
        os.kill(pid, 0)  # running
        1 / 0  # noqa: B018
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)


def test_the_measured_command_is_the_pages():
    argv = threads.gan_command("auto", 60, Path("TMP"))
    assert argv[:3] == [sys.executable, "-m", "hsc_ref"]
    assert " ".join(argv[3:]) == (
        "--blas-threads auto gan --data ring --method hsc --steps 60 --out TMP "
        "--force --no-plots --no-progress"
    )


def test_blas_sizes_examples():
    assert doctest.testmod(blas_sizes).failed == 0
