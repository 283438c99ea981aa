"""hsc_ref.conformance.check: correct implementations pass, planted cutoff bugs fail, shrunk,
with the cause named and a reproduction that runs.

Each planted bug is a realistic mistake (a cutoff off by a factor, scaled by ||H||_F as
``torch.linalg.norm`` does by default, NumPy's default ``rcond``, the learning rate applied
twice, the Newton step); each must fail with the diagnosis that names it, and the snippet in
its message, executed here, must reproduce the failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsc_ref import conformance
from hsc_ref.spectral import golden_rtol

EXAMPLES = 40  # per check: a planted bug fails within it (measured: 3 to 30 examples)
MAX_N = 6


def golden_pinv_numpy(H):
    """An eigh-based pseudo-inverse with the golden cutoff, in H's own precision."""
    lam, q = np.linalg.eigh(H)
    cutoff = 100 * H.shape[0] * np.finfo(H.dtype).eps * np.abs(lam).max()
    inv = np.where(np.abs(lam) > cutoff, 1 / np.where(lam == 0, 1, lam), 0)
    return (q * inv) @ q.T


def hsc_step_numpy(H, g, lr):
    lam, q = np.linalg.eigh(H)
    return -lr * (q @ (lam / (1 + lam**2) * (q.T @ g)))


def run_snippet(report, fn, convert=None):
    """Execute the reproduction of a failed report; it must raise the same comparison."""
    namespace = {"fn": fn}
    if convert is not None:
        namespace["convert"] = convert
    with pytest.raises(AssertionError) as failed:
        exec(report.reproduction, namespace)
    return str(failed.value)


# --------------------------------------------------------------------------- NumPy


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_numpy_implementations_pass_at_both_precisions(dtype):
    report = conformance.check(
        golden_pinv_numpy, "pinv", dtype=dtype, max_examples=EXAMPLES, max_n=MAX_N
    )
    assert report.passed and report.examples == EXAMPLES
    assert report.compared + report.skipped == EXAMPLES and report.compared > EXAMPLES / 2
    assert 0 < report.worst_excess <= 1
    step = conformance.check(hsc_step_numpy, "step", dtype=dtype, max_examples=EXAMPLES)
    assert step.passed


def test_the_same_seed_gives_the_same_report():
    def run(fn, seed):
        return conformance.check(
            fn, "pinv", max_examples=EXAMPLES, seed=seed, max_n=MAX_N, raise_on_failure=False
        )

    def negated(H):
        return -golden_pinv_numpy(H)

    assert run(golden_pinv_numpy, 3).to_json() == run(golden_pinv_numpy, 3).to_json()
    first, again = run(negated, 0), run(negated, 0)
    assert not first.passed and first.to_json() == again.to_json()


_DRAWS = """
import hashlib, sys
import numpy as np
import scipy.linalg
if sys.argv[1] == "golden":
    import hsc_ref.golden  # many local modules, many literals
from hsc_ref import conformance
seen = []
def pinv(H):
    seen.append(hashlib.sha1(np.ascontiguousarray(H).tobytes()).hexdigest())
    return scipy.linalg.pinvh(H, atol=0.0, rtol=100 * H.shape[0] * np.finfo(H.dtype).eps)
conformance.check(pinv, "pinv", max_examples=40, seed=0, max_n=8, raise_on_failure=False)
print(" ".join(seen))
"""


def test_the_same_seed_draws_the_same_matrices_whatever_the_process_imported():
    # Hypothesis mixes literals of the local modules imported so far into its draws: without
    # the check's guard, importing hsc_ref.golden first changed the eighth matrix drawn
    def draws(first: str) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", _DRAWS, first], capture_output=True, text=True, check=True
        )
        return out.stdout.split()

    bare, loaded = draws("bare"), draws("golden")
    assert len(bare) >= 20 and bare == loaded


def test_numpy_pinv_default_fails_at_both_precisions_with_its_rcond_named():
    # numpy.linalg.pinv(H): rcond = 1e-15 * max singular value whatever the dtype; the
    # golden cutoff is 100 n eps, 2.2e-14 n at float64 (so 1e-15 is 1/(22 n) of it) and
    # 1.2e-5 n at float32: it keeps eigenvalues the golden cutoff drops, at both precisions
    for dtype in ("float64", "float32"):
        report = conformance.check(
            np.linalg.pinv,
            "pinv",
            dtype=dtype,
            max_examples=EXAMPLES,
            max_n=MAX_N,
            raise_on_failure=False,
        )
        assert not report.passed, dtype
        assert "cutoff is too small" in report.diagnosis, report.diagnosis
        assert "NumPy's pinv and torch.pinverse default rcond = 1e-15" in report.diagnosis
        assert "Likely cause: the cutoff" in report.message
        message = run_snippet(report, np.linalg.pinv)
        assert message in report.message  # the snippet reproduces the reported comparison


def test_steps_with_the_learning_rate_twice_or_the_newton_step_are_named():
    def lr_twice(H, g, lr):
        return lr * hsc_step_numpy(H, g, lr)

    def newton(H, g, lr):
        return -lr * (golden_pinv_numpy(H) @ g)

    cases = {
        lr_twice: "lr: the learning rate applied twice",
        newton: "the Newton step -lr pinv(H) g",
    }
    for fn, cause in cases.items():
        report = conformance.check(
            fn, "step", max_examples=EXAMPLES, max_n=MAX_N, raise_on_failure=False
        )
        assert not report.passed and cause in report.diagnosis, report.diagnosis
        assert "g = np.array(" in report.reproduction and "lr = " in report.reproduction
        run_snippet(report, fn)


def test_descending_eigenvalues_are_told_from_a_sign_flip():
    def descending(H):
        return np.linalg.eigvalsh(H)[::-1]

    with pytest.raises(AssertionError, match="Likely cause: eigenvalue ordering: descending"):
        conformance.check(descending, "eigenvalues", max_examples=EXAMPLES, max_n=MAX_N)


def test_an_implementation_that_raises_fails_with_its_exception_shrunk():
    def fragile(H):
        if H.shape[0] > 3:
            raise RuntimeError("too big")
        return np.linalg.eigvalsh(H)

    report = conformance.check(
        fragile, "eigenvalues", max_examples=EXAMPLES, max_n=MAX_N, raise_on_failure=False
    )
    assert not report.passed and len(report.minimal_H) == 4  # shrunk to the smallest that raises
    assert "raised RuntimeError: too big" in report.message


# --------------------------------------------------------------------------- PyTorch


def torch_pinv(scale=1.0, frobenius=False):
    torch = pytest.importorskip("torch")

    def pinv(H):
        rtol = 100 * H.shape[0] * torch.finfo(H.dtype).eps
        if frobenius:  # atol from torch.linalg.norm(H): the Frobenius norm, not max|lam|
            return torch.linalg.pinv(H, atol=rtol * torch.linalg.norm(H), hermitian=True)
        return torch.linalg.pinv(H, atol=0.0, rtol=scale * rtol, hermitian=True)

    return pinv, torch.from_numpy


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_torch_pinv_passes(dtype):
    fn, convert = torch_pinv()
    report = conformance.check(
        fn, "pinv", dtype=dtype, convert=convert, max_examples=EXAMPLES, max_n=MAX_N
    )
    assert report.passed and report.compared > EXAMPLES / 2


@pytest.mark.parametrize(
    ("scale", "dtype", "words"),
    [
        (2.0, "float64", ("too large", "matches 2 x the golden cutoff")),
        (2.0, "float32", ("too large", "matches 2 x the golden cutoff")),
        (0.5, "float64", ("too small", "matches 1/2 x the golden cutoff")),
    ],
)
def test_a_torch_pinv_with_its_cutoff_off_by_2_fails_with_the_factor_measured(scale, dtype, words):
    fn, convert = torch_pinv(scale)
    report = conformance.check(
        fn,
        "pinv",
        dtype=dtype,
        convert=convert,
        max_examples=EXAMPLES,
        max_n=MAX_N,
        raise_on_failure=False,
    )
    assert not report.passed
    for word in words:
        assert word in report.diagnosis, report.diagnosis
    assert "from torch import from_numpy as convert" in report.reproduction
    assert run_snippet(report, fn) in report.message


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_torch_pinv_scaled_by_the_frobenius_norm_fails_and_is_named(dtype):
    fn, convert = torch_pinv(frobenius=True)
    report = conformance.check(
        fn,
        "pinv",
        dtype=dtype,
        convert=convert,
        max_examples=50,
        max_n=8,  # ||H||_F / max|lam| grows with the order
        raise_on_failure=False,
    )
    assert not report.passed
    assert "a cutoff scaled by ||H||_F (torch.linalg.norm's default)" in report.diagnosis
    assert run_snippet(report, fn) in report.message


def test_a_torch_step_and_rank_with_the_golden_cutoff_pass_and_the_default_rank_fails():
    torch = pytest.importorskip("torch")

    def step(H, g, lr):
        lam, q = torch.linalg.eigh(H)
        return -lr * (q @ (lam / (1 + lam**2) * (q.T @ g)))

    def rank(H):
        rtol = 100 * H.shape[0] * torch.finfo(H.dtype).eps
        return torch.linalg.matrix_rank(H, atol=0.0, rtol=rtol, hermitian=True)

    convert = torch.from_numpy
    assert conformance.check(step, "step", convert=convert, max_examples=EXAMPLES).passed
    assert conformance.check(rank, "rank", convert=convert, max_examples=EXAMPLES).passed

    def default_rank(H):
        return torch.linalg.matrix_rank(H, hermitian=True)  # rtol = n eps

    report = conformance.check(
        default_rank,
        "rank",
        convert=convert,
        max_examples=EXAMPLES,
        max_n=MAX_N,
        raise_on_failure=False,
    )
    assert not report.passed and "cutoff is too small" in report.diagnosis
    assert "SciPy's and torch.linalg.pinv's default rtol = n * eps" in report.diagnosis


# --------------------------------------------------------------------------- the report


def test_the_json_report_is_written_atomically_and_never_over_what_exists(tmp_path: Path):
    report = conformance.check(golden_pinv_numpy, "pinv", max_examples=5, max_n=3)
    path = tmp_path / "pinv.json"
    record = report.to_json(path)
    assert json.loads(path.read_text()) == record
    assert record["passed"] is True and record["examples"] == 5 and record["output"] == "pinv"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        report.to_json(path)
    report.to_json(path, overwrite=True)
    with pytest.raises(ValueError, match="regular file"):
        report.to_json(tmp_path, overwrite=True)  # a folder
    link = tmp_path / "link.json"
    os.symlink(path, link)
    with pytest.raises(ValueError, match="regular file"):
        report.to_json(link, overwrite=True)
    assert json.loads(path.read_text()) == record


def test_a_failed_report_serializes_its_minimal_matrix_and_reproduction(tmp_path: Path):
    report = conformance.check(
        lambda H: -golden_pinv_numpy(H), "pinv", max_examples=EXAMPLES, raise_on_failure=False
    )
    record = json.loads(json.dumps(report.to_json()))
    assert record["passed"] is False and record["diagnosis"].startswith("sign")
    assert np.array(record["minimal_H"]).shape[0] >= 1
    assert "reference_outputs" in record["reproduction"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output": "inverse"}, "output must be one of"),
        ({"dtype": "float16"}, "dtype must be one of"),
        ({"max_examples": 0}, "max_examples must be a positive integer"),
        ({"max_n": 1000}, "max_n must be at most 64"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    args = {"output": "pinv", **kwargs}
    output = args.pop("output")
    with pytest.raises(ValueError, match=match):
        conformance.check(golden_pinv_numpy, output, **args)


def test_without_hypothesis_the_module_imports_and_check_names_the_test_extra():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import numpy as np\nfrom hsc_ref import conformance\n"
        "conformance.check(np.linalg.pinv, 'pinv')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert 'pip install "hsc-ref[test]"' in done.stderr, done.stderr
    golden_rtol(2, "float64")  # the policy the reference applies is the core's
