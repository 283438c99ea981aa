"""Golden files: deterministic bytes, verified reading, the checker, and the tolerance policy."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from golden_support import copy_set, edit_manifest, reference_results
from hypothesis import given
from hypothesis import strategies as st
from strategies import from_spectrum, orders, orthogonal_matrices, spectra

from hsc_ref import golden, layout
from hsc_ref.gan.game import dirac_matrices
from hsc_ref.golden.cases import matrix_case
from hsc_ref.golden.check import assert_matches_golden
from hsc_ref.layout import flatten, layers_from_torch_linear
from hsc_ref.style.loss import FeatureExtractor, gram, style_loss
from hsc_ref.testing import (
    assert_close,
    central_difference_gradient,
    compare_arrays,
)


@pytest.fixture(scope="module")
def gold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden")
    golden.write_golden(folder)
    return folder


@pytest.fixture(scope="module")
def gold(gold_dir: Path) -> golden.GoldenSet:
    return golden.read_golden(gold_dir)


def rehash(folder: Path, case: str) -> None:
    """Make the manifest agree with a modified data file (a consistent forgery)."""
    data = (folder / f"{case}.npz").read_bytes()

    def edit(manifest):
        manifest["cases"][case]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest["cases"][case]["size"] = len(data)

    edit_manifest(folder, edit)


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    only = ["matrix_exact_zeros", "mlp_tanh"]
    for name in ("a", "b"):
        golden.write_golden(tmp_path / name, only=only)
    golden.write_golden(tmp_path / "c", only=only, seed=1)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["manifest.json", "matrix_exact_zeros.npz", "mlp_tanh.npz"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in files[1:]:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_npz_entries_have_a_fixed_date_and_no_pickles(gold_dir: Path) -> None:
    with zipfile.ZipFile(gold_dir / "matrix_spd.npz") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    with np.load(gold_dir / "matrix_spd.npz", allow_pickle=False) as data:
        assert all(not data[k].dtype.hasobject for k in data.files)


def test_write_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    golden.write_golden(tmp_path, only=["matrix_spd"])
    before = (tmp_path / "matrix_spd.npz").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        golden.write_golden(tmp_path, only=["matrix_spd"], seed=3)
    assert (tmp_path / "matrix_spd.npz").read_bytes() == before
    golden.write_golden(tmp_path, only=["matrix_spd"], seed=3, overwrite=True)
    assert (tmp_path / "matrix_spd.npz").read_bytes() != before


def test_manifest_records_schema_versions_conventions_and_reasoned_tolerances(
    gold: golden.GoldenSet,
) -> None:
    manifest = gold.manifest
    assert manifest["schema_version"] == golden.files.SCHEMA_VERSION
    assert {"hsc_ref", "numpy", "scipy", "autograd", "python"} <= set(manifest["versions"])
    assert {"flat_layout", "cutoff_policy", "losses", "gram"} <= set(manifest["conventions"])
    for case in manifest["cases"].values():
        for out in case["outputs"].values():
            for precision in golden.cases.PRECISIONS:
                tol = out["tolerance"][precision]
                assert tol["reason"] and tol["atol"] >= 0 and tol["rtol"] >= 0


# --------------------------------------------------------------------------- round trip


def test_reference_outputs_pass_their_own_check_through_a_results_file(
    gold_dir: Path, gold: golden.GoldenSet, tmp_path: Path
) -> None:
    path = golden.save_results(tmp_path / "r.npz", reference_results(gold))
    report = golden.check_results(gold_dir, path)
    assert report.passed
    assert report.counts()["fail"] == report.counts()["missing"] == 0
    assert report.counts()["pass"] > 40


def test_each_perturbed_output_fails_alone_and_within_tolerance_passes(
    gold: golden.GoldenSet,
) -> None:
    reference = reference_results(gold)
    for case in gold.cases.values():
        for output, desired in case.outputs.items():
            tol = case.tolerances[output]["float64"]
            if not tol.comparable:
                continue
            key = f"{case.name}/{output}"
            allowed = tol.atol + tol.rtol * abs(float(desired.ravel()[0]))
            for factor, should_pass in ((0.5, True), (2.0, False)):
                bumped = np.array(desired, dtype=np.float64)
                bumped.ravel()[0] += factor * allowed if allowed > 0 else (0 if should_pass else 1)
                report = golden.check_results(gold, {**reference, key: bumped})
                failed = {f"{r.case}/{r.output}" for r in report.rows if r.status == "fail"}
                assert failed == (set() if should_pass else {key}), (key, factor)


def test_missing_comparable_output_fails_and_missing_not_comparable_one_does_not(
    gold: golden.GoldenSet,
) -> None:
    reference = reference_results(gold)
    del reference["mlp_tanh/grad"], reference["matrix_near_cutoff/hc"]
    report = golden.check_results(gold, reference)
    status = {f"{r.case}/{r.output}": r.status for r in report.rows}
    assert status["mlp_tanh/grad"] == "missing"
    assert status["matrix_near_cutoff/hc"] == "not comparable"
    assert not report.passed


def test_report_json_and_table_name_every_row(gold: golden.GoldenSet) -> None:
    reference = reference_results(gold)
    reference["matrix_spd/pinv"] = np.full((10, 10), np.nan)
    reference["extra/key"] = np.zeros(1)
    report = golden.check_results(gold, reference)
    data = json.loads(json.dumps(report.to_json()))
    assert data["passed"] is False and data["unexpected_keys"] == ["extra/key"]
    row = next(r for r in data["rows"] if r["case"] == "matrix_spd" and r["output"] == "pinv")
    assert row["status"] == "fail" and "non-finite" in row["message"]
    table = report.format_table()
    lines = table.splitlines()
    cells = [line.split() for line in lines[1 : 1 + len(report.rows)]]  # below the header
    assert [tuple(c[:2]) for c in cells] == [(r.case, r.output) for r in report.rows]
    assert next(c for c in cells if c[:2] == ["matrix_spd", "pinv"])[-1] == "FAIL"
    assert any(line.startswith("- matrix_spd/pinv FAIL: non-finite") for line in lines)
    assert "FAILED" in table and "extra/key" in table


def test_shape_mismatch_fails_with_the_shapes_named(gold: golden.GoldenSet) -> None:
    reference = reference_results(gold)
    reference["matrix_spd/step"] = reference["matrix_spd/step"][:, None]
    row = next(
        r
        for r in golden.check_results(gold, reference).rows
        if (r.case, r.output) == ("matrix_spd", "step")
    )
    assert row.status == "fail" and "shape (10, 1) differs from the expected (10,)" in row.message


def test_non_numeric_or_complex_results_fail_with_the_dtype_named(gold: golden.GoldenSet) -> None:
    reference = reference_results(gold)
    reference["matrix_spd/step"] = np.array(["x"] * 10)
    reference["matrix_spd/hc"] = reference["matrix_spd/hc"] + 0j
    rows = {r.output: r for r in golden.check_results(gold, reference, only=["matrix_spd"]).rows}
    assert rows["step"].status == rows["hc"].status == "fail"
    assert "is not real" in rows["step"].message and "complex" in rows["hc"].message


def test_float32_results_select_float32_tolerances(gold: golden.GoldenSet) -> None:
    reference = {
        k: (v.astype(np.float32) if v.dtype == np.float64 else v)
        for k, v in reference_results(gold).items()
        if k.startswith("matrix_exact_zeros/")
    }
    report = golden.check_results(gold, reference, only=["matrix_exact_zeros"])
    assert {r.precision for r in report.rows} == {"float32"} and report.passed
    forced = golden.check_results(gold, reference, only=["matrix_exact_zeros"], precision="float64")
    assert not forced.passed  # float32 rounding exceeds the float64 tolerances


def test_check_rejects_bad_arguments(gold: golden.GoldenSet) -> None:
    with pytest.raises(ValueError, match="precision must be"):
        golden.check_results(gold, {}, precision="float16")
    with pytest.raises(ValueError, match="unknown"):
        golden.check_results(gold, {}, only=["nope"])
    with pytest.raises(ValueError, match="case must be one of"):
        golden.build_case("nope")
    with pytest.raises(ValueError, match="seed must be"):
        golden.build_case("matrix_spd", seed=-1)
    with pytest.raises(ValueError, match="<case>/<output>"):
        golden.save_results("unused.npz", {"no_slash": np.zeros(1)})


# --------------------------------------------------------------------------- corrupted files

DATA = "matrix_spd.npz"


def npz_with(path: Path, **extra: np.ndarray) -> bytes:
    """The arrays of ``path`` with ``extra`` added or replaced, saved by plain numpy.savez."""
    with np.load(path) as arrays:
        content = {k: arrays[k] for k in arrays.files}
    buffer = io.BytesIO()
    np.savez(buffer, **(content | extra))
    return buffer.getvalue()


def set_tolerance(**values):
    return lambda m: m["cases"]["matrix_spd"]["outputs"]["step"]["tolerance"]["float64"].update(
        values
    )


CORRUPTIONS = {
    "truncate": (lambda f, d: (f / DATA).write_bytes(d[: len(d) // 2]), "does not match"),
    "flip_byte": (
        lambda f, d: (f / DATA).write_bytes(d[:-100] + bytes([d[-100] ^ 1]) + d[-99:]),
        "does not match the manifest",
    ),
    "truncate_and_rehash": (
        lambda f, d: (f / DATA).write_bytes(d[: len(d) // 2]),
        "not a readable .npz",
    ),
    "pickle_and_rehash": (
        lambda f, d: (f / DATA).write_bytes(
            npz_with(f / DATA, **{"output/step": np.array([{"evil": 1}], dtype=object)})
        ),
        "pickled",
    ),
    "extra_array_and_rehash": (
        lambda f, d: (f / DATA).write_bytes(npz_with(f / DATA, **{"output/bonus": np.zeros(2)})),
        "differ from the manifest",
    ),
    "schema_version": (
        lambda f, d: edit_manifest(f, lambda m: m.update(schema_version=2)),
        "schema_version 2",
    ),
    "manifest_not_json": (
        lambda f, d: (f / golden.files.MANIFEST_NAME).write_text(
            '{"schema_version": 1, "cases": {'
        ),
        "not valid JSON",
    ),
    "manifest_missing": (
        lambda f, d: (f / golden.files.MANIFEST_NAME).unlink(),
        "manifest .* does not exist",
    ),
    "data_missing": (lambda f, d: (f / DATA).unlink(), "does not exist"),
    "shape_in_manifest": (
        lambda f, d: edit_manifest(
            f, lambda m: m["cases"]["matrix_spd"]["outputs"]["step"].update(shape=[11])
        ),
        "manifest says",
    ),
    "file_outside_dir": (
        lambda f, d: edit_manifest(f, lambda m: m["cases"]["matrix_spd"].update(file="../x.npz")),
        "'<case>.npz' in DIR",
    ),
    "tolerance_missing": (
        lambda f, d: edit_manifest(
            f,
            lambda m: m["cases"]["matrix_spd"]["outputs"]["step"]["tolerance"].pop("float32"),
        ),
        "bad tolerance entry",
    ),
    "tolerance_negative": (
        lambda f, d: edit_manifest(f, set_tolerance(atol=-1.0)),
        "bad tolerance entry",
    ),
    "tolerance_not_a_number": (
        lambda f, d: edit_manifest(f, set_tolerance(rtol="0")),
        "bad tolerance entry",
    ),
    "case_entry_not_object": (
        lambda f, d: edit_manifest(f, lambda m: m["cases"].update(matrix_spd=["x"])),
        "must be an object with 'outputs'",
    ),
}


@pytest.mark.parametrize("corrupt", sorted(CORRUPTIONS))
def test_corrupted_golden_set_is_rejected_clearly(
    gold_dir: Path, tmp_path: Path, corrupt: str
) -> None:
    folder = copy_set(gold_dir, tmp_path / "set")
    damage, match = CORRUPTIONS[corrupt]
    damage(folder, (folder / DATA).read_bytes())
    if corrupt.endswith("_and_rehash"):
        rehash(folder, "matrix_spd")
    with pytest.raises(golden.GoldenFileError, match=match):
        golden.read_golden(folder)


def test_bad_results_files_are_rejected_clearly(tmp_path: Path) -> None:
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"matrix_spd/step": np.array([None], dtype=object)})
    with pytest.raises(golden.GoldenFileError, match="pickled"):
        golden.load_results(pickled)
    badkeys = tmp_path / "badkeys.npz"
    np.savez(badkeys, step=np.zeros(3))
    with pytest.raises(golden.GoldenFileError, match="<case>/<output>"):
        golden.load_results(badkeys)
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(golden.GoldenFileError, match="no zip signature"):
        golden.load_results(tmp_path / "junk.npz")
    with pytest.raises(golden.GoldenFileError, match="does not exist"):
        golden.load_results(tmp_path / "absent.npz")


# --------------------------------------------------------------------------- tolerance policy


def test_cutoff_dependent_outputs_are_marked_where_rounding_decides_them(
    gold: golden.GoldenSet,
) -> None:
    def comparable(case: str, output: str, precision: str) -> bool:
        return gold.cases[case].tolerances[output][precision].comparable

    for precision in golden.cases.PRECISIONS:
        for output in ("pinv", "hc", "rank", "step_literal"):
            assert not comparable("matrix_near_cutoff", output, precision)
        assert comparable("matrix_near_cutoff", "step", precision)
        for output in gold.cases["matrix_exact_zeros"].outputs:
            assert comparable("matrix_exact_zeros", output, precision)
    for output in ("pinv", "hc", "rank"):
        assert comparable("matrix_between_cutoffs", output, "float64")
        assert not comparable("matrix_between_cutoffs", output, "float32")
    assert comparable("matrix_large_norm", "step", "float64")
    assert not comparable("matrix_large_norm", "step", "float32")  # ||H|| eps32 ~ 0.1


def test_hessian_tolerance_is_n_eps_norm_times_safety(gold: golden.GoldenSet) -> None:
    case = gold.cases["mlp_tanh"]
    n, batch = case.inputs["theta"].shape[0], case.meta["batch"]
    tol = case.tolerances["hessian"]["float64"]
    expected = golden.cases.SAFETY * (n + batch) * np.finfo(np.float64).eps
    assert tol.atol == pytest.approx(expected * np.linalg.norm(case.outputs["hessian"]))


def numpy_outputs(case: golden.GoldenCase, dtype: type) -> dict[str, np.ndarray]:
    """An independent NumPy/SciPy implementation of the matrix outputs at ``dtype``."""
    h = case.inputs["H"].astype(dtype)
    g = case.inputs["g"].astype(dtype)
    lr = dtype(case.inputs["lr"])
    n = h.shape[0]
    rtol = 100 * n * np.finfo(dtype).eps  # the golden cutoff policy
    lam, q = scipy.linalg.eigh(h, driver="evr")
    pinv = np.linalg.pinv(h, rtol=rtol, hermitian=True)
    hc = h + pinv
    phi = lam / (1 + lam * lam)
    return {
        "eigenvalues": lam,
        "pinv": pinv,
        "hc": hc,
        "rank": np.int64((np.abs(lam) > rtol * np.abs(lam).max()).sum()),
        "step": -lr * (q @ (phi * (q.T @ g))),
        "step_cholesky": np.linalg.solve(np.eye(n, dtype=dtype) + h @ h, -lr * (h @ g)),
        "step_literal": -lr * (np.linalg.pinv(hc, rtol=rtol, hermitian=True) @ g),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_independent_numpy_implementation_passes_at_its_precision(
    gold: golden.GoldenSet, dtype: type
) -> None:
    results = {}
    for case in gold.cases.values():
        if case.kind == "matrix":
            out = numpy_outputs(case, dtype)
            results |= {f"{case.name}/{k}": v for k, v in out.items()}
    matrix_cases = [c for c in gold.cases if c.startswith("matrix_")]
    assert_matches_golden(results, gold.directory, only=matrix_cases)


def test_dirac_cases_match_the_closed_form_and_vanish_at_the_equilibrium(
    gold: golden.GoldenSet,
) -> None:
    for name in ("dirac_equilibrium", "dirac_near_equilibrium"):
        case = gold.cases[name]
        closed = dirac_matrices(float(case.inputs["theta"][0]), float(case.inputs["phi"][0]))
        for out, exact in (
            ("hessian_g", closed.hessian_g),
            ("hessian_d", closed.hessian_d),
            ("jacobian", closed.jacobian),
        ):
            tol = case.tolerances[out]["float64"]
            assert_close(case.outputs[out], exact, rtol=tol.rtol, atol=tol.atol, reason=tol.reason)
    eq = gold.cases["dirac_equilibrium"]
    for out in ("hessian_g", "hessian_d", "hc_g", "hc_d", "step_g", "step_d"):
        assert not eq.outputs[out].any() and eq.tolerances[out]["float32"].comparable
    near = gold.cases["dirac_near_equilibrium"]
    # Hc jumps to about 1/lambda near the equilibrium while the step stays small
    assert near.outputs["hc_g"][0, 0] > 1e3 and abs(near.outputs["step_g"][0]) < 1e-5


def test_style_case_grams_and_losses_match_the_gatys_formulas(gold: golden.GoldenSet) -> None:
    case = gold.cases["style_pixels"]
    layers = tuple((case.inputs[f"W{i}"], case.inputs[f"b{i}"]) for i in range(2))
    fx = FeatureExtractor(layers, 3, 0)
    total = 0.0
    for i, (f, a) in enumerate(
        zip(fx.apply(case.inputs["image"]), fx.apply(case.inputs["style_image"]), strict=True)
    ):
        F, A = f.reshape(-1, f.shape[-1]), a.reshape(-1, a.shape[-1])  # M x C
        c, m = F.shape[1], F.shape[0]
        tol = case.tolerances[f"gram_{i}"]["float64"]
        assert_close(case.outputs[f"gram_{i}"], F.T @ F, rtol=0, atol=tol.atol, reason=tol.reason)
        e_l = np.sum((F.T @ F - A.T @ A) ** 2) / (4 * c**2 * m**2)
        tol = case.tolerances[f"layer_loss_{i}"]["float64"]
        assert_close(case.outputs[f"layer_loss_{i}"], e_l, rtol=0, atol=tol.atol, reason=tol.reason)
        total += e_l / 2
    tol = case.tolerances["loss"]["float64"]
    assert_close(case.outputs["loss"], total, rtol=0, atol=tol.atol, reason=tol.reason)


def test_style_pixel_hessian_matches_central_differences_of_the_gradient(
    gold: golden.GoldenSet,
) -> None:
    case = gold.cases["style_pixels"]
    x = case.inputs["image"].ravel()
    v = np.random.default_rng(0).standard_normal(x.shape)
    v /= np.linalg.norm(v)
    hv = case.outputs["hessian"] @ v
    layers = tuple((case.inputs[f"W{i}"], case.inputs[f"b{i}"]) for i in range(2))
    fx = FeatureExtractor(layers, 3, 0)
    targets = [gram(f) for f in fx.apply(case.inputs["style_image"])]

    def loss(flat):
        return style_loss(fx.apply(flat.reshape(4, 4, 3)), targets)

    h = 1e-4
    fd = (
        central_difference_gradient(loss, x + h * v) - central_difference_gradient(loss, x - h * v)
    ) / (2 * h)
    # H v ~ (g(x + h v) - g(x - h v)) / 2h with FD gradients (step 1e-5): their error
    # (1e-10 |f3| + eps |f| / 1e-5 ~ 1e-13) over 2h = 2e-4 is ~1e-9, the truncation
    # h^2 |d3 g| / 6 ~ 1e-9; both far below 1e-6 |H v| (|H v| ~ 1e-2)
    assert np.abs(fd - hv).max() <= 1e-6 * np.abs(hv).max() + 1e-9


# --------------------------------------------------------------------------- helpers


def test_torch_parameter_order_matches_nn_linear_weight_layout() -> None:
    rng = np.random.default_rng(0)
    weights = [
        (rng.standard_normal((4, 3)), rng.standard_normal(4)),
        (rng.standard_normal((2, 4)), rng.standard_normal(2)),
    ]
    torch_flat = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in weights])
    ours, _ = flatten(layers_from_torch_linear(weights))
    p = layout.torch_parameter_order([(3, 4), (4, 2)])
    np.testing.assert_array_equal(ours[p], torch_flat)


def test_compare_arrays_reports_normwise_relative_error_and_the_worst_entry() -> None:
    c = compare_arrays(np.array([0.0, 1.0, 2.5]), np.array([0.0, 1.0, 2.0]), rtol=0.1, atol=0.1)
    assert not c.ok and c.index == (2,)
    assert c.max_abs_err == 0.5 and c.max_rel_err == 0.25
    assert c.worst_excess == pytest.approx(0.5 / 0.3)
    zero = compare_arrays(np.zeros(2), np.zeros(2), rtol=0, atol=0)
    assert zero.ok and zero.max_rel_err == 0.0


def test_assert_close_message_names_errors_tolerance_and_reason() -> None:
    with pytest.raises(AssertionError) as info:
        assert_close(np.ones(3), np.ones(3) * 1.5, rtol=1e-3, atol=0, reason="derived", name="Hc")
    text = str(info.value)
    for part in ("Hc:", "max abs err 0.5", "rtol=0.001", "because: derived"):
        assert part in text
    with pytest.raises(ValueError, match="rtol must be a finite non-negative"):
        assert_close(np.ones(1), np.ones(1), rtol=-1, atol=0, reason="x")


def test_assert_matches_golden_lists_only_the_failing_rows(gold: golden.GoldenSet) -> None:
    reference = reference_results(gold)
    reference["mlp_tanh/loss"] = reference["mlp_tanh/loss"] * 2
    with pytest.raises(AssertionError, match=r"1 of \d+ outputs failed") as info:
        assert_matches_golden(reference, gold.directory)
    rows = str(info.value).split("Cutoff policy")[0]
    assert "mlp_tanh/loss FAIL" in rows and "matrix_spd" not in rows


# --------------------------------------------------------------------------- soundness


@given(data=st.data(), n=orders())
def test_derived_tolerances_admit_an_independent_implementation_at_both_precisions(
    data, n: int
) -> None:
    """Every comparable output of a drawn matrix is matched by NumPy/SciPy at its precision."""
    lam = data.draw(spectra(n, min_ratio=1e-12, scale_exponents=(-3.0, 6.0)))
    H = from_spectrum(lam, data.draw(orthogonal_matrices(n)))
    g = np.random.default_rng(n).standard_normal(n)
    case = matrix_case("drawn", H, g, lr=0.5)
    gold = golden.GoldenSet(Path("drawn"), {}, {"drawn": case})
    for dtype in (np.float64, np.float32):
        out = numpy_outputs(case, dtype)
        results = {f"drawn/{k}": v for k, v in out.items()}
        report = golden.check_results(gold, results)
        assert report.passed, report.format_table(failures_only=True)
