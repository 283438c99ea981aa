"""Golden sets travel between machines: accepted within a share of each tolerance, never beyond.

A set written under another OpenBLAS kernel (``OPENBLAS_CORETYPE`` in a subprocess) and a set
committed from an earlier hsc_ref (``tests/golden/data/older_haswell``, written before sets
recorded their BLAS, under the Haswell kernel) both check here; a reference, an input, a
tolerance or a rounded meta number moved by more than ``AGREEMENT`` of its tolerance, a
flipped integer or flag, and an edited text are refused with the case, the array or key, the
share and both machines' BLAS named.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import exact_inputs  # tests/golden/exact_inputs.py
import numpy as np
import pytest
from golden_support import copy_set, edit_manifest, reference_results

from hsc_ref import _io, golden
from hsc_ref.cli import main
from hsc_ref.golden import _stored_inputs, cases, files

OLDER = Path(__file__).resolve().parent / "data" / "older_haswell"
KERNEL_CASES = ["matrix_spd", "matrix_cutoff_band", "gan_player_cutoffs"]

_WRITE_UNDER_KERNEL = """
import hashlib, json, sys
import numpy, scipy.linalg, threadpoolctl
from hsc_ref.golden import build_cases, write_golden
write_golden(sys.argv[1], only=sys.argv[2:])
inputs = {
    c.name: {k: hashlib.sha256(numpy.ascontiguousarray(v).tobytes()).hexdigest()
             for k, v in c.inputs.items()}
    for c in build_cases(0)
}
(__import__("pathlib").Path(sys.argv[1]).parent / "inputs.json").write_text(json.dumps(inputs))
print(json.dumps([i.get("architecture") for i in threadpoolctl.threadpool_info()]))
"""


def _architectures() -> list[str]:
    return sorted({str(lib.get("architecture")) for lib in files.blas_info()})


def _other_kernel() -> str | None:
    """An OpenBLAS kernel this CPU runs that is not the default one (None: no OpenBLAS)."""
    here = files.blas_info()
    if not any(lib.get("internal_api") == "openblas" for lib in here):
        return None
    default = {lib.get("architecture") for lib in here}
    # x86-64 CPUs of the last decade run these older kernels (Sandybridge needs AVX)
    return next(k for k in ("Sandybridge", "Haswell", "Prescott") if k not in default)


@pytest.fixture(scope="module")
def other_kernel_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three cases written under another OpenBLAS kernel in a subprocess (and, in inputs.json
    beside the folder, the SHA-256 of every input of every case built there)."""
    kernel = _other_kernel()
    if kernel is None:
        pytest.skip(f"NumPy and SciPy do not run OpenBLAS here ({files.blas_info()})")
    folder = tmp_path_factory.mktemp("kernel") / "gold"
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_UNDER_KERNEL, str(folder), *KERNEL_CASES],
        env=env | {"PYTHONPATH": path},
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"writing under OPENBLAS_CORETYPE={kernel} failed:\n{done.stderr}"
    used = json.loads(done.stdout.strip().splitlines()[-1])
    if set(used) & set(_architectures()):
        pytest.skip(f"this OpenBLAS build ignores OPENBLAS_CORETYPE={kernel} (ran {used})")
    return folder


def test_every_input_is_the_same_bits_under_another_kernel(
    other_kernel_set: Path, session_gold: golden.GoldenSet
) -> None:
    # inputs whose construction rounds through BLAS (a matrix case's H, the tuned bias) are
    # stored exactly; every other input is seeded draws and elementwise functions of them
    theirs = json.loads((other_kernel_set.parent / "inputs.json").read_text())
    for name, case in session_gold.cases.items():
        for key, value in case.inputs.items():
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
            assert theirs[name][key] == digest, (
                f"{name}/{key} is built differently under another BLAS kernel: store it exactly "
                f"(a matrix case's H: python tests/golden/exact_inputs.py --write)"
            )


def test_every_matrix_case_has_its_matrix_stored() -> None:
    matrix_cases = (*cases._MATRIX_CASES, *cases._TIGHT_CUTOFF_CASES)
    missing = [n for n in matrix_cases if n not in _stored_inputs.stored_matrices()]
    assert not missing, f"run python tests/golden/exact_inputs.py --write to store {missing}"


def test_the_stored_matrices_are_their_construction_here() -> None:
    # here: bit for bit (derived on this kind of machine); another kernel: 0.075 at most of
    # the eigenvalue tolerance (Haswell, Frobenius norm), within the share accepted
    assert max(exact_inputs.shares().values()) <= golden.files.AGREEMENT


def _forge(folder: Path, case: str, group: str, key: str, value: np.ndarray) -> None:
    """Replace one array of a case's file and re-hash it: a consistent forgery."""
    path = folder / f"{case}.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays[f"{group}/{key}"] = value
    data = _io.npz_bytes(arrays)
    path.write_bytes(data)

    def rehash(manifest: dict) -> None:
        manifest["cases"][case].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    edit_manifest(folder, rehash)


def _refusal(folder: Path) -> str:
    with pytest.raises(golden.GoldenFileError) as info:
        golden.read_golden(folder)
    return str(info.value)


# --------------------------------------------------------------------------- accepted


def test_a_set_written_under_another_blas_kernel_checks_here(
    other_kernel_set: Path, tmp_path: Path
) -> None:
    gold = golden.read_golden(other_kernel_set)
    recorded = {lib["architecture"] for lib in gold.manifest["blas"]}
    assert recorded.isdisjoint(_architectures())  # the manifest names the other kernel
    agreement = golden.verify_golden(gold)
    # the kernel moved the references by far less than the share accepted (measured with
    # Haswell and Sandybridge under SkylakeX: 0.075 at most, an input H in Frobenius norm);
    # a kernel that computes the same bits (Haswell's kernels under Zen) gives share 0
    here_dir = tmp_path / "here"
    golden.write_golden(here_dir, only=KERNEL_CASES)
    here_cases = golden.read_golden(here_dir).manifest["cases"]
    here_hashes = {n: c["sha256"] for n, c in here_cases.items()}
    moved = any(c["sha256"] != here_hashes[n] for n, c in gold.manifest["cases"].items())
    assert agreement.largest_share < golden.files.AGREEMENT
    assert (agreement.largest_share > 0) == moved
    assert agreement.blas_recorded == tuple(gold.manifest["blas"])
    mine = {c.name: c for c in golden.build_cases(0, KERNEL_CASES)}
    tuned = gold.cases["gan_player_cutoffs"].inputs["phi"]
    assert tuned.tobytes() == mine["gan_player_cutoffs"].inputs["phi"].tobytes()  # exact input
    # results are checked against the file's references: the file's outputs pass, and so do
    # this machine's own (which differ from them by rounding)
    report = golden.check_results(gold, reference_results(gold), only=KERNEL_CASES)
    assert report.passed
    here = {f"{n}/{o}": v for n, case in mine.items() for o, v in case.outputs.items()}
    assert golden.check_results(gold, here, only=KERNEL_CASES).passed


def test_a_set_written_by_an_older_hsc_ref_under_haswell_keeps_checking(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    gold = golden.read_golden(OLDER)
    assert "blas" not in gold.manifest  # written before sets recorded their BLAS
    agreement = golden.verify_golden(gold)
    assert 0 < agreement.largest_share < golden.files.AGREEMENT and agreement.blas_recorded == ()
    # its tuned bias is the Haswell tuning, 2.6e-5 from the stored one: accepted, because the
    # tuning is only defined to half the relative tolerance of the eigenvalue it places
    old_bias = gold.cases["gan_player_cutoffs"].inputs["phi"][cases._TUNED_INDEX]
    assert 1e-6 < abs(old_bias - cases._TUNED_BIAS["float64"]) < 1e-4
    names = sorted(gold.cases)
    results = golden.save_results(tmp_path / "r.npz", reference_results(gold))
    command = ["golden", "check", str(OLDER), str(results), "--json", str(tmp_path / "r.json")]
    assert main([*command, "--only", *names]) == 0
    said = capsys.readouterr().out
    assert "golden set accepted: within 0.0" in said and "of this machine's regeneration" in said
    assert "written with BLAS none (written before sets recorded their BLAS)" in said


# --------------------------------------------------------------------------- refused


@pytest.fixture
def spd_set(tmp_path: Path) -> Path:
    folder = tmp_path / "gold"
    golden.write_golden(folder, only=["matrix_spd", "mlp_tanh"])
    return folder


def _step_tolerance(case: golden.GoldenCase) -> float:
    tol = case.tolerances["step"]["float64"]
    assert tol.rtol == 0 and tol.comparable
    return tol.atol


def test_a_reference_moved_by_a_full_tolerance_is_refused_and_a_tenth_is_not(
    spd_set: Path,
) -> None:
    case = golden.read_golden(spd_set).cases["matrix_spd"]
    step, atol = case.outputs["step"], _step_tolerance(case)
    _forge(spd_set, "matrix_spd", "output", "step", step + 0.1 * atol)
    accepted = golden.verify_golden(golden.read_golden(spd_set))
    assert accepted.largest_share == pytest.approx(0.1, rel=1e-3)  # (rounded in the sum)
    assert accepted.where == "case 'matrix_spd': output 'step'"
    _forge(spd_set, "matrix_spd", "output", "step", step + atol)
    text = _refusal(spd_set)
    assert "case 'matrix_spd': output 'step' differs by up to" in text
    assert "1 x its float64 tolerance, beyond the 0.25 x accepted" in text


def test_a_moved_input_is_refused_with_its_share(spd_set: Path) -> None:
    gold = golden.read_golden(spd_set)
    h = gold.cases["matrix_spd"].inputs["H"]
    lam_tol = gold.cases["matrix_spd"].tolerances["eigenvalues"]["float64"].atol
    bump = np.zeros_like(h)
    bump[0, 0] = 0.5 * lam_tol  # half the eigenvalue tolerance, in Frobenius norm
    _forge(spd_set, "matrix_spd", "input", "H", h + bump)
    text = _refusal(spd_set)
    assert "case 'matrix_spd': input 'H' differs by" in text and "in Frobenius norm" in text
    assert re.search(r"0\.50?\d* x its tolerance, beyond the 0.25 x accepted", text)


def test_a_seeded_input_moved_by_1e_12_is_refused(spd_set: Path) -> None:
    x = golden.read_golden(spd_set).cases["mlp_tanh"].inputs["x"]
    _forge(spd_set, "mlp_tanh", "input", "x", x * (1 + 1e-12))
    assert "case 'mlp_tanh': input 'x' differs by up to" in _refusal(spd_set)


def test_a_flipped_rank_and_a_flipped_flag_are_refused(spd_set: Path, tmp_path: Path) -> None:
    flag_set = copy_set(spd_set, tmp_path / "flag")
    rank = golden.read_golden(spd_set).cases["matrix_spd"].outputs["rank"]
    _forge(spd_set, "matrix_spd", "output", "rank", rank - 1)
    text = _refusal(spd_set)
    assert f"output 'rank' is {int(rank) - 1} in the file, {int(rank)} on this machine" in text
    assert "no rounding explains" in text

    def flip(manifest: dict) -> None:
        manifest["cases"]["matrix_spd"]["outputs"]["pinv"]["tolerance"]["float64"]["comparable"] = (
            False
        )

    edit_manifest(flag_set, flip)
    assert "pinv.tolerance.float64.comparable is False in the file, True" in _refusal(flag_set)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda t: t.update(atol=t["atol"] * 1.3),
            "tolerance.float64.atol is .* 0.3 x its tolerance",
        ),
        (lambda t: t.update(reason=t["reason"].replace("Lipschitz", "L")), "reason is '"),
        (lambda t: t.update(reason=t["reason"].replace("x10", "x20")), "reason is '"),
    ],
    ids=["atol_x1.3", "reason_word", "reason_integer"],
)
def test_an_edited_tolerance_or_reason_is_refused(spd_set: Path, edit, match: str) -> None:
    edit_manifest(
        spd_set, lambda m: edit(m["cases"]["matrix_spd"]["outputs"]["step"]["tolerance"]["float64"])
    )
    text = _refusal(spd_set)
    assert "case 'matrix_spd'.outputs.step" in text and re.search(match, text)


def test_a_moved_cutoff_in_the_meta_is_refused(spd_set: Path) -> None:
    def move(manifest: dict) -> None:
        policy = manifest["cases"]["matrix_spd"]["meta"]["cutoff_policy"]["H"]
        policy["cutoff_float64"] *= 1 + 1e-3

    edit_manifest(spd_set, move)
    assert "meta.cutoff_policy.H.cutoff_float64 is" in _refusal(spd_set)


def test_a_refusal_names_both_machines_blas(other_kernel_set: Path, tmp_path: Path) -> None:
    folder = copy_set(other_kernel_set, tmp_path / "gold")
    case = golden.read_golden(folder).cases["matrix_spd"]
    _forge(folder, "matrix_spd", "output", "step", case.outputs["step"] + _step_tolerance(case))
    text = _refusal(folder)
    recorded = golden.read_golden(other_kernel_set).manifest["blas"][0]["architecture"]
    pattern = rf"The set records the BLAS openblas \S+, kernel {recorded}, \d+ threads? \(lib"
    assert re.search(pattern, text)
    assert "; this machine runs openblas" in text
    for arch in _architectures():
        assert f"kernel {arch}" in text


def test_a_refusal_says_when_the_blas_is_the_same(spd_set: Path) -> None:
    case = golden.read_golden(spd_set).cases["matrix_spd"]
    _forge(spd_set, "matrix_spd", "output", "step", case.outputs["step"] * 1.5)
    assert "Written with the BLAS this machine runs" in _refusal(spd_set)


# --------------------------------------------------------------------------- the record


def test_the_manifest_records_the_blas_libraries_and_kernels(spd_set: Path) -> None:
    blas = golden.read_golden(spd_set).manifest["blas"]
    assert blas == json.loads(json.dumps(files.blas_info())) and blas
    for lib in blas:
        assert set(lib) == {"internal_api", "version", "architecture", "num_threads", "filename"}
        assert "/" not in lib["filename"]  # a file name, not the user's path


# --------------------------------------------------------------------------- exact inputs


@pytest.mark.parametrize("policy", ["float64", "float32"])
def test_the_stored_tuned_bias_is_what_tuning_gives_and_places_the_eigenvalue(
    policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "gan_player_cutoffs" if policy == "float64" else "gan_player_cutoffs_float32"
    stored = golden.build_case(name)
    tol, _, _ = files._input_tolerance(stored, "phi")
    bias = cases._TUNED_BIAS[policy]
    assert stored.inputs["phi"][cases._TUNED_INDEX] == bias  # seed 0 builds the stored value
    monkeypatch.setattr(cases, "_TUNED_BIAS", {})  # tune again, here
    _, inputs, _ = cases._gan_setup(0, "player_cutoffs", policy)
    retuned = inputs["phi"][cases._TUNED_INDEX]
    # this machine's tuning lands within the share accepted of the bias's tolerance (another
    # kernel: 2.6e-5 from it, 0.0002 of the tolerance 0.12)
    assert abs(retuned - bias) <= golden.files.AGREEMENT * tol[cases._TUNED_INDEX]
    # the stored bias still puts H_D's smallest eigenvalue at 1.6 x the player's own cutoff,
    # within the share accepted of its eigenvalue tolerance
    lam = np.abs(stored.outputs["eigenvalues_d"])
    target = 1.6 * cases.cutoff_rtol(lam.size, policy) * lam.max()
    lam_tol = stored.tolerances["eigenvalues_d"]["float64"].atol
    assert abs(lam.min() - target) <= golden.files.AGREEMENT * lam_tol
    assert stored.tolerances["pinv_d"][policy].comparable  # the kept set is unambiguous
