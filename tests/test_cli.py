"""The ``hsc-ref`` command line, run in-process through ``main(argv)`` (and once as a script)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from examples_support import run_single_threaded
from strategies import matrix_with_spectrum

import hsc_ref
from hsc_ref.cli import main
from hsc_ref.corrections import correct
from hsc_ref.steps import hsc_step


def _symmetric(seed: int = 0, n: int = 6, null: int = 2) -> np.ndarray:
    """A symmetric matrix with ``null`` exact zero eigenvalues and both signs."""
    rng = np.random.default_rng(seed)
    signs = np.resize([1.0, -1.0], n - null)
    lam = np.concatenate([np.zeros(null), rng.uniform(0.5, 3.0, n - null) * signs])
    return matrix_with_spectrum(lam, seed)


@pytest.fixture
def matrix_file(tmp_path: Path) -> Path:
    path = tmp_path / "H.npy"
    np.save(path, _symmetric())
    return path


def test_demo_core_section_reports_rank_kept(capsys):
    assert main(["demo", "--only", "core", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "rank(H) = " in out and "rank(H + pinv(H)) = " in out
    rank_h = int(out.split("rank(H) = ")[1].split(",")[0])
    rank_hc = int(out.split("rank(H + pinv(H)) = ")[1].split(",")[0])
    assert rank_h == rank_hc  # the correction keeps the rank
    assert "it does not make H full rank" in out


def test_demo_refuses_unknown_section(capsys):
    assert main(["demo", "--only", "no-such-section"]) == 2
    err = capsys.readouterr().err
    assert "--only sections must be among" in err and "no-such-section" in err


def test_info_lists_versions_and_tolerance_policy(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"hsc_ref {hsc_ref.__version__}")
    assert f"numpy {np.__version__}" in out
    assert "rtol = n * eps(dtype)" in out and "atol = 0" in out


def test_correct_writes_corrected_matrix_and_summary(tmp_path, matrix_file, capsys):
    out = tmp_path / "out"
    assert main(["correct", str(matrix_file), "--out", str(out)]) == 0
    H = np.load(matrix_file)
    expected = correct(H)
    with np.load(out / "correction.npz", allow_pickle=False) as data:
        assert set(data.files) >= {"corrected", "pinv", "eigenvalues_before", "eigenvalues_after"}
        np.testing.assert_array_equal(data["corrected"], expected.matrix)
        np.testing.assert_array_equal(data["eigenvalues_after"], expected.eigenvalues_after)
        assert float(data["cutoff"]) == expected.cutoff
        assert "step" not in data.files
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "hsc" and summary["n"] == 6 and summary["dtype"] == "float64"
    assert summary["rank_before"] == summary["rank_after"] == 4
    assert summary["null_dim_before"] == summary["null_dim_after"] == 2
    assert (
        summary["inertia_before"]
        == summary["inertia_after"]
        == {
            "positive": 2,
            "negative": 2,
            "zero": 2,
        }
    )
    assert summary["atol"] == 0.0 and summary["rtol"] == 6 * np.finfo(np.float64).eps
    captured = capsys.readouterr()
    assert json.loads(captured.out) == summary  # stdout is the JSON alone: | python -m json.tool
    assert captured.err == f"wrote {out / 'correction.npz'} and {out / 'summary.json'}\n"


def test_correct_with_grad_writes_the_hsc_step(tmp_path, matrix_file):
    g = np.random.default_rng(1).standard_normal(6)
    np.save(tmp_path / "g.npy", g)
    out = tmp_path / "out"
    argv = ["correct", str(matrix_file), "--grad", str(tmp_path / "g.npy"), "--lr", "0.5"]
    assert main([*argv, "--out", str(out)]) == 0
    with np.load(out / "correction.npz", allow_pickle=False) as data:
        step = data["step"]
        np.testing.assert_array_equal(step, hsc_step(np.load(matrix_file), g, lr=0.5))
        assert float(data["lr"]) == 0.5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step_route"] == "spectral"
    assert summary["step_norm"] == float(np.linalg.norm(step))
    assert summary["step_norm"] <= 0.5 * summary["grad_norm"] / 2  # ||s|| <= lr ||g|| / 2


def test_correct_refuses_to_overwrite_without_force(tmp_path, matrix_file, capsys):
    out = tmp_path / "out"
    assert main(["correct", str(matrix_file), "--out", str(out)]) == 0
    before = (out / "summary.json").read_bytes()
    np.save(matrix_file, 2 * _symmetric())
    capsys.readouterr()
    assert main(["correct", str(matrix_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hsc-ref correct: error:") and "--force" in err
    assert (out / "summary.json").read_bytes() == before
    assert main(["correct", str(matrix_file), "--out", str(out), "--force"]) == 0
    assert (out / "summary.json").read_bytes() != before


def test_correct_does_not_write_half_the_outputs(tmp_path, matrix_file, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("mine")
    assert main(["correct", str(matrix_file), "--out", str(out)]) == 2
    assert "summary.json exists" in capsys.readouterr().err
    assert not (out / "correction.npz").exists()
    assert (out / "summary.json").read_text() == "mine"


def _pickled(path: Path) -> None:
    np.save(path, np.array([{"H": 1}], dtype=object), allow_pickle=True)


def _npz(path: Path) -> None:
    np.savez(path.with_suffix(""), H=_symmetric())  # numpy appends .npz


def _nonsymmetric(path: Path) -> None:
    np.save(path, np.triu(np.ones((4, 4))))


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


def _text_file(path: Path) -> None:
    path.write_text("1 0\n0 1\n")


def _folder(path: Path) -> None:
    path.mkdir()


def _complex(path: Path) -> None:
    np.save(path, _symmetric().astype(np.complex128))


def _with_nan(path: Path) -> None:
    H = _symmetric()
    H[0, 0] = np.nan
    np.save(path, H)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("H.npy", _pickled, r"holds a pickled \(object-dtype\) array"),
        ("missing.npy", None, r"H file .*missing\.npy does not exist"),
        ("H.npy", _nonsymmetric, r"H must be symmetric: max\|H - H\.T\|"),
        ("H.npz", _npz, r"must be a single-array \.npy, got an \.npz archive"),
        ("H.npy", _empty_file, r"H file .*H\.npy is empty"),
        ("H.npy", _text_file, r"is not a \.npy file: it does not start with NumPy's magic"),
        ("H.npy", _folder, r"H file .*H\.npy is a folder, not a \.npy file"),
        ("H.npy", _with_nan, r"H must be finite"),
        ("H.npy", _complex, r"H file .*H\.npy holds complex128 values; H must hold real numbers"),
    ],
    ids=["pickle", "missing", "non-symmetric", "npz", "empty", "text", "folder", "nan", "complex"],
)
def test_correct_bad_input_returns_2_with_one_clear_line(tmp_path, capsys, name, make, message):
    path = tmp_path / name
    if make is not None:
        make(path)
    assert main(["correct", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hsc-ref correct: error: ")
    assert re.search(message, lines[0])
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "hcs"], r"method must be one of"),
        (["--atol", "-1"], r"atol must be a finite non-negative number, got -1\.0"),
        (["--rtol", "nan"], r"rtol must be a finite non-negative number, got nan"),
        (["--grad", "G", "--lr", "0"], r"lr must be positive, got 0\.0"),
        (["--grad", "G"], r"g must have shape \(6,\) or \(6, k\) to match H, got \(5,\)"),
        (["--method", "damped", "--param", "mu"], r"--param must be NAME=NUMBER"),
        (["--method", "damped", "--param", "mu=x"], r"--param must be NAME=NUMBER"),
        (["--method", "damped", "--param", "mu=1", "--param", "mu=2"], r"given once"),
        (["--method", "damped", "--param", "mu=-1"], r"mu must be a finite non-negative"),
        (["--method", "damped", "--param", "nu=1"], r"'damped' takes mu, got the parameter nu"),
    ],
    ids=[
        "method",
        "atol",
        "rtol",
        "lr",
        "grad-length",
        "param-no-value",
        "param-not-number",
        "param-twice",
        "param-negative",
        "param-unknown",
    ],
)
def test_correct_bad_options_return_2(tmp_path, matrix_file, capsys, extra, message):
    np.save(tmp_path / "g.npy", np.ones(5))
    extra = [str(tmp_path / "g.npy") if e == "G" else e for e in extra]
    assert main(["correct", str(matrix_file), "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_correct_refuses_a_file_as_output_folder(tmp_path, matrix_file, capsys):
    (tmp_path / "out").write_text("not a folder")
    assert main(["correct", str(matrix_file), "--out", str(tmp_path / "out")]) == 2
    assert "--out must be a folder" in capsys.readouterr().err


def test_console_script_prints_version():
    script = Path(sys.executable).parent / "hsc-ref"
    if not script.exists():
        pytest.skip("hsc-ref is not installed as a script here (python -m hsc_ref is tested)")
    done = run_single_threaded(str(script), "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"hsc_ref {hsc_ref.__version__}"


def test_python_dash_m_hsc_ref_is_the_command_line(tmp_path, matrix_file):
    done = run_single_threaded(sys.executable, "-m", "hsc_ref", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"hsc_ref {hsc_ref.__version__}"
    out = tmp_path / "out"
    done = run_single_threaded(
        sys.executable, "-m", "hsc_ref", "correct", str(matrix_file), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "summary.json").read_text())["rank_after"] == 4
    assert json.loads(done.stdout)["rank_after"] == 4  # a pipe reads the JSON, nothing else
    assert done.stderr.startswith("wrote ")
    done = run_single_threaded(
        sys.executable, "-m", "hsc_ref", "correct", str(matrix_file), "--out", str(out)
    )
    assert done.returncode == 2 and done.stderr.startswith("hsc-ref correct: error:")


def test_package_ships_py_typed():
    assert (Path(hsc_ref.__file__).parent / "py.typed").is_file()


def test_correct_keeps_float32_and_its_cutoff(tmp_path, capsys):
    H = _symmetric(seed=2).astype(np.float32)
    np.save(tmp_path / "H32.npy", H)
    assert main(["correct", str(tmp_path / "H32.npy"), "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["dtype"] == "float32"
    assert summary["rtol"] == 6 * float(np.finfo(np.float32).eps)
    with np.load(tmp_path / "out" / "correction.npz", allow_pickle=False) as data:
        assert data["corrected"].dtype == np.float32
        np.testing.assert_array_equal(data["corrected"], correct(H).matrix)


def test_correct_passes_correction_parameters(tmp_path, matrix_file, capsys):
    out = tmp_path / "out"
    args = ["correct", str(matrix_file), "--method", "damped", "--param", "mu=0.25"]
    assert main([*args, "--out", str(out)]) == 0
    with np.load(out / "correction.npz", allow_pickle=False) as data:
        corrected = data["corrected"]
    expected = correct(np.load(matrix_file), "damped", mu=0.25).matrix
    np.testing.assert_array_equal(corrected, expected)  # the same computation, bit for bit
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "damped(mu=0.25)"


# --------------------------------------------------------------------------- a fresh core install


def test_info_lists_each_extra_with_the_versions_installed(capsys):
    import importlib.metadata

    from hsc_ref.cli import OPTIONAL_PACKAGES

    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for extra, packages in OPTIONAL_PACKAGES.items():
        (line,) = [x for x in lines if x.startswith(f"  {extra}: ")]
        for package in packages:
            try:
                expected = f"{package} {importlib.metadata.version(package)}"
            except importlib.metadata.PackageNotFoundError:
                expected = f"{package} missing"
            if package != "cupy":  # its wheels are named cupy-cudaNNx
                assert expected in line, line
        assert ("not installed" in line) == ("missing" in line), line


def test_the_extras_info_lists_are_those_of_pyproject():
    import tomllib

    from hsc_ref.cli import OPTIONAL_PACKAGES

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(requirement: str) -> list[str]:
        if ";" in requirement:  # a backport for old Pythons (tomli): not an extra's package
            return []
        name, _, rest = re.split(r"[<>=!~]", requirement, maxsplit=1)[0].partition("[")
        return [name.strip(), *(e.strip() for e in rest.rstrip("]").split(",") if e.strip())]

    declared = {extra: [n for r in reqs for n in names(r)] for extra, reqs in extras.items()}
    assert {k: list(v) for k, v in OPTIONAL_PACKAGES.items()} == declared


def test_threadpoolctl_is_a_core_dependency_with_no_extra_of_its_own():
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    core = [re.split(r"[<>=]", d)[0] for d in project["project"]["dependencies"]]
    assert "threadpoolctl" in core
    extras = project["project"]["optional-dependencies"]
    assert not any(r.startswith("threadpoolctl") for reqs in extras.values() for r in reqs)


_LIGHT_START = """
import contextlib, io, sys
import hsc_ref.cli
loaded = {m.split(".")[0] for m in sys.modules}
with contextlib.redirect_stdout(io.StringIO()):
    codes = [hsc_ref.cli.main(["--version"]), hsc_ref.cli.main(["--help"])]
after = {m.split(".")[0] for m in sys.modules}
print(codes, sorted(loaded & {"scipy", "autograd", "numpy"}), sorted(after & {"scipy", "autograd"}))
"""


def test_the_command_line_imports_neither_scipy_nor_autograd_until_a_command_runs():
    # Structure, not timing: hsc-ref --version and --help stay fast because they import
    # nothing heavy (the maths loads inside main, once the command is known).
    done = run_single_threaded(sys.executable, "-c", _LIGHT_START)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 0] [] []"


def test_top_level_help_lists_every_command_with_its_own_help(capsys):
    from hsc_ref.cli import SUBCOMMANDS, build_parser

    full = build_parser()
    (sub,) = [a for a in full._actions if a.dest == "command"]
    own = {action.dest: action.help for action in sub._choices_actions}
    assert own == {c.name: c.help for c in SUBCOMMANDS}  # the light listing says the same
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in SUBCOMMANDS)


_INTERRUPTED_IMPORT = """
import importlib.abc, os, signal, sys
from hsc_ref.cli import main

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "scipy":  # the user presses Ctrl-C while the maths is loading
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.exit(main(["gan", "--help"]))
"""


def test_ctrl_c_while_a_command_loads_prints_one_line_and_exits_130():
    done = run_single_threaded(sys.executable, "-c", _INTERRUPTED_IMPORT)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "hsc-ref gan: interrupted\n"
    assert done.stdout == ""


_NEW_CORRECTION = """
import contextlib, io, json, sys
from hsc_ref import corrections

def shifted(tau):
    '''A correction added to the registry only: lam + tau (damped under another name).'''
    return corrections.damped(mu=tau)

corrections.CORRECTIONS["shifted"] = shifted   # before anything else imports the registry
from hsc_ref.cli import main
from hsc_ref.lab._correct_files import check_params
from hsc_ref.lab.sweep import parse_spec

out = sys.argv[1]
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["style", "--method", "shifted", "--tau", "0.5", "--size", "8", "--steps", "1",
                 "--out", out, "--no-plots", "--no-progress"])
spec = parse_spec('[style]\\nmethods = ["shifted"]\\nsizes = [8]\\nsteps = 1\\ntau = 0.5\\n')
check_params("shifted", {"tau": 0.5})
try:
    check_params("shifted", {})
    refused = ""
except ValueError as exc:
    refused = str(exc)
print(json.dumps({"code": code, "tau": [r.config.get("tau") for r in spec.grid_runs()],
                  "refused": refused}))
"""


def test_a_correction_with_a_parameter_needs_only_its_entry_in_the_registry(tmp_path):
    # A correction is declared once, as a factory in hsc_ref.corrections.CORRECTIONS: its
    # keywords become hsc-ref style's options, a style sweep's keys and hsc-ref correct's
    # --param names, with no edit anywhere else (registered before the rest is imported).
    done = run_single_threaded(sys.executable, "-c", _NEW_CORRECTION, str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "code": 0,
        "tau": [0.5],
        "refused": "correction 'shifted' needs the parameter tau (--param tau=VALUE)",
    }
