"""The checker's integrity: one precision per result set, completeness, a verified golden set.

Each test plants one of the defects of issue 11 that let a wrong result set pass, and
checks that it now fails, with the defect named.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from golden_support import copy_set, edit_manifest, reference_results

from hsc_ref import golden
from hsc_ref.cli import main


def row(report: golden.CheckReport, key: str) -> golden.CheckRow:
    return next(r for r in report.rows if r.key == key)


# --------------------------------------------------------------------------- one precision


def test_one_float32_array_does_not_loosen_a_float64_result_set(
    session_gold: golden.GoldenSet,
) -> None:
    results = reference_results(session_gold)
    results["matrix_spd/rank"] = np.float32(results["matrix_spd/rank"])  # the example
    results["matrix_spd/step"] = results["matrix_spd/step"] * (1 + 1e-6)  # off by 1e-6 relative
    report = golden.check_results(session_gold, results)
    assert report.precision == "float64" and "highest precision" in report.precision_source
    assert {r.precision for r in report.rows} == {"float64"}
    rank = row(report, "matrix_spd/rank")
    assert rank.status == "fail" and "stored as float32 in a result set checked at float64" in (
        rank.message
    )
    assert row(report, "matrix_spd/step").status == "fail"  # float32 tolerances would pass it
    assert not report.passed


def test_a_float32_set_with_one_float64_array_is_checked_at_float64_and_says_why(
    session_gold: golden.GoldenSet,
) -> None:
    results = {
        k: v.astype(np.float32) if v.dtype == np.float64 else v
        for k, v in reference_results(session_gold).items()
        if k.startswith("matrix_exact_zeros/")
    }
    assert golden.check_results(session_gold, results, only=["matrix_exact_zeros"]).passed
    results["matrix_exact_zeros/step"] = results["matrix_exact_zeros/step"].astype(np.float64)
    report = golden.check_results(session_gold, results, only=["matrix_exact_zeros"])
    assert report.precision == "float64" and "'matrix_exact_zeros/step'" in (
        report.precision_source
    )
    assert not report.passed
    declared = golden.check_results(
        session_gold, results, only=["matrix_exact_zeros"], precision="float32"
    )
    assert declared.passed  # an array above the declared precision is fine


# --------------------------------------------------------------------------- completeness


def test_an_empty_result_set_fails(session_gold: golden.GoldenSet) -> None:
    report = golden.check_results(session_gold, {})
    assert not report.passed and report.counts()["pass"] == 0
    assert "compares nothing fails" in report.format_table()


def test_a_check_of_only_not_comparable_outputs_fails(session_gold: golden.GoldenSet) -> None:
    results = reference_results(session_gold)
    only = ["matrix_near_cutoff/hc", "matrix_near_cutoff/pinv"]
    report = golden.check_results(session_gold, results, only=only)
    assert report.counts() == {"pass": 0, "fail": 0, "missing": 0, "not comparable": 2}
    assert not report.passed


def test_missing_outputs_fail_unless_only_excludes_them_and_then_they_are_listed(
    session_gold: golden.GoldenSet,
) -> None:
    steps = ("step", "step_g", "step_d")
    results = {k: v for k, v in reference_results(session_gold).items() if k.split("/")[1] in steps}
    full = golden.check_results(session_gold, results)
    assert not full.passed and row(full, "mlp_tanh/hessian").status == "missing"
    only_steps = golden.check_results(session_gold, results, only=["step"])
    assert only_steps.passed
    assert {r.output for r in only_steps.rows} == {"step", "step_g", "step_d"}
    assert "mlp_tanh/hessian" in only_steps.unchecked and "matrix_spd/pinv" in only_steps.unchecked
    table = only_steps.format_table()
    assert (
        "Not checked (left out by --only)" in table
        and "mlp_tanh: loss, grad, hessian, eigenvalues" in table
    )
    with pytest.raises(ValueError, match="unknown 'nope'"):
        golden.check_results(session_gold, results, only=["nope"])


def test_a_case_deleted_from_the_manifest_is_a_missing_case(
    session_gold_dir: Path, tmp_path: Path
) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")
    edit_manifest(folder, lambda m: m["cases"].pop("mlp_tanh"))
    gold = golden.read_golden(folder)  # a subset is what 'write --only' writes
    results = reference_results(golden.read_golden(session_gold_dir))
    results["mlp_tanh/step"] = np.zeros_like(results["mlp_tanh/step"])  # wrong, and hidden?
    report = golden.check_results(gold, results)
    assert not report.passed
    missing = row(report, "mlp_tanh/*")
    assert missing.status == "missing" and "has no case 'mlp_tanh'" in missing.message


def test_every_case_this_version_writes_is_expected(session_gold: golden.GoldenSet) -> None:
    assert session_gold.expected_cases == golden.CASE_NAMES
    assert set(session_gold.cases) == set(golden.CASE_NAMES)


# --------------------------------------------------------------------------- integrity


def test_duplicate_json_keys_in_the_manifest_are_refused(
    session_gold_dir: Path, tmp_path: Path
) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")
    path = folder / golden.files.MANIFEST_NAME
    text = path.read_text()
    # a second "atol" after the first one: json.loads would silently keep the larger value
    first = text.index('"atol"')
    end = text.index(",", first)
    path.write_text(text[: end + 1] + ' "atol": 1000.0,' + text[end + 1 :])
    with pytest.raises(golden.GoldenFileError, match=r"duplicate JSON keys \['atol'\]"):
        golden.read_golden(folder)


def test_an_edited_tolerance_is_refused_with_the_field_named(
    session_gold_dir: Path, tmp_path: Path
) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")

    def loosen(manifest):
        manifest["cases"]["matrix_spd"]["outputs"]["step"]["tolerance"]["float64"]["atol"] = 1.0

    edit_manifest(folder, loosen)
    with pytest.raises(golden.GoldenFileError) as info:
        golden.read_golden(folder)
    text = str(info.value)
    assert "is not what hsc_ref" in text and "outputs.step.tolerance.float64.atol is 1.0" in text
    assert "hsc-ref golden write DIR --force" in text


def test_a_rehashed_reference_is_refused(session_gold_dir: Path, tmp_path: Path) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")
    data_path = folder / "matrix_spd.npz"
    with np.load(data_path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["output/step"] = arrays["output/step"] * 1.5
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data_path.write_bytes(buffer.getvalue())
    data = data_path.read_bytes()

    def rehash(manifest):
        manifest["cases"]["matrix_spd"]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest["cases"]["matrix_spd"]["size"] = len(data)

    edit_manifest(folder, rehash)
    with pytest.raises(golden.GoldenFileError, match="output 'step' differs by up to"):
        golden.read_golden(folder)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(seed=1), r"seed: case 'matrix_spd'"),
        (lambda m: m["conventions"].update(hc="whatever"), r"manifest.conventions.hc is"),
        (lambda m: m["cases"]["matrix_spd"].update(description="x"), r"description is 'x'"),
        (lambda m: m["cases"].update(bogus=m["cases"]["matrix_spd"]), r"\['bogus'\] are not cases"),
    ],
    ids=["seed", "convention", "description", "unknown_case"],
)
def test_any_other_edit_of_the_manifest_is_refused(
    session_gold_dir: Path, tmp_path: Path, edit, match: str
) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")
    edit_manifest(folder, edit)
    with pytest.raises(golden.GoldenFileError, match=match):
        golden.read_golden(folder)


# --------------------------------------------------------------------------- the report


def test_the_report_never_overwrites_an_input_even_with_force(
    session_gold_dir: Path, tmp_path: Path, capsys
) -> None:
    folder = copy_set(session_gold_dir, tmp_path / "set")
    results = golden.save_results(tmp_path / "r.npz", reference_results(golden.read_golden(folder)))
    before = {p.name: p.read_bytes() for p in folder.iterdir()} | {"r": results.read_bytes()}
    targets = [folder / golden.files.MANIFEST_NAME, folder / "matrix_spd.npz", results]
    for target in [*targets, folder / "new_report.json"]:
        code = main(
            ["golden", "check", str(folder), str(results), "--json", str(target), "--force"]
        )
        assert code == 2
        assert "never overwrites" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in folder.iterdir()} | {"r": results.read_bytes()}
    assert after == before
    assert (
        main(["golden", "check", str(folder), str(results), "--json", str(tmp_path / "ok.json")])
        == 0
    )


def test_an_interrupted_forced_write_keeps_the_previous_set_whole(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "gold"
    golden.write_golden(folder, only=["matrix_spd", "matrix_exact_zeros"])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    files = golden.files
    real = files._case_bytes
    calls = []

    def fails_on_the_second_case(case):
        calls.append(case.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of writing the new set
        return real(case)

    monkeypatch.setattr(files, "_case_bytes", fails_on_the_second_case)
    with pytest.raises(KeyboardInterrupt):
        golden.write_golden(
            folder, seed=1, only=["matrix_spd", "matrix_exact_zeros"], overwrite=True
        )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # old set, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gold"]  # no staging folder left
    assert golden.read_golden(folder).cases.keys() == {"matrix_spd", "matrix_exact_zeros"}


def test_a_forced_write_replaces_the_whole_set_and_refuses_foreign_files(tmp_path) -> None:
    folder = tmp_path / "gold"
    golden.write_golden(folder, only=["matrix_spd", "matrix_exact_zeros"])
    golden.write_golden(folder, only=["matrix_spd"], overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "matrix_spd.npz"]
    with pytest.raises(FileExistsError, match="pass overwrite"):
        golden.write_golden(folder, only=["matrix_spd"])
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"'notes\.txt', which is not part of a golden set"):
        golden.write_golden(folder, only=["matrix_spd"], overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        golden.write_golden(tmp_path / "other", seed=-1)
