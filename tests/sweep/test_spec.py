"""The sweep spec: every rule names its key, the planned runs, run keys and their commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hsc_ref.cli import build_parser
from hsc_ref.gan._options import applicable as gan_applicable
from hsc_ref.gan.train import DEFAULT_LR
from hsc_ref.lab.sweep._spec import MAX_RUNS, RunSpec, SpecError, parse_spec, read_spec

TUNE = 'mode = "tune-confirm"\n'
CONFIRM = "confirm_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the spec must have a [gan] or a [style] table"),
        ("mode = 'random'\n[gan]", "mode must be one of grid, tune-confirm, got 'random'"),
        ("[gan]\nstepz = 3", "gan.stepz is not a known key; known keys here: methods, steps"),
        ("[gna]", "gna is not a known key; known keys here: mode, gan, style"),
        ("[gan]\nsteps = 0", "gan.steps must be a positive integer, got 0"),
        ("[gan]\nsteps = 2.5", "gan.steps must be a positive integer, got 2.5"),
        ("[gan]\nsteps = true", "gan.steps must be a positive integer, got True"),
        ("[gan]\nmethods = 'hsc'", "gan.methods must be a non-empty list of names, got 'hsc'"),
        ("[gan]\nmethods = ['bfgs']", "gan.methods must be among article, hsc"),
        ("[gan]\nmethods = ['abs', 'saddle_free']", "gan.methods must name each value once"),
        ("[gan]\ndata = ['moons']", "gan.data must be among ring, grid, dirac, got 'moons'"),
        ("[gan]\nhidden = [16]", "gan.hidden must be a list of lists of widths"),
        ("[gan]\nhidden = [[0]]", "gan.hidden must be a positive integer, got 0"),
        ("[gan]\nseeds = [-1]", "gan.seeds must be a non-negative integer, got -1"),
        ("[gan]\nseeds = [1, 1]", "gan.seeds must name each value once, got 1 twice"),
        ("[gan]\nloss = 'hinge'", "gan.loss must be one of bce, minimax, got 'hinge'"),
        ("[gan]\nmethods = ['hsc']\n[gan.lr]\nadam = [0.1]", "gan.lr.adam is not a known key"),
        ("[gan]\n[gan.lr]\nhsc = [0.1, -1]", "gan.lr.hsc must be a positive number, got -1"),
        ("[gan]\n[gan.lr]\nhsc = [nan]", "gan.lr.hsc must be a positive number, got nan"),
        ("[gan]\n[gan.lr]\nhsc = []", "gan.lr.hsc must be a non-empty list of positive numbers"),
        ("[gan]\nmethods = ['article']\nloss = 'minimax'", "gan: the article's loop uses"),
        ("[gan]\ncriterion = 'modes_captured'", "gan.criterion is for mode = 'tune-confirm'"),
        (TUNE + "[gan]\nseeds = [0]", "gan.seeds is for grid mode"),
        (TUNE + "[gan]\n" + CONFIRM, "gan.tune_seeds is required in mode = 'tune-confirm'"),
        (
            TUNE + "[gan]\ntune_seeds = [0]\nconfirm_seeds = [1, 2]",
            "gan.confirm_seeds must hold at least 10 seeds, got 2",
        ),
        (
            TUNE + "[gan]\ntune_seeds = [3]\n" + CONFIRM,
            "gan.confirm_seeds must be fresh (none among gan.tune_seeds), got [3] in both",
        ),
        (
            TUNE + "[gan]\ntune_seeds = [10]\ncriterion = 'fid'\n" + CONFIRM,
            "gan.criterion must be among modes_captured",
        ),
        (
            TUNE
            + "[gan]\ndata = ['dirac']\ntune_seeds = [10]\ncriterion = 'reverse_kl'\n"
            + CONFIRM,
            "gan.criterion: DiracGAN has no modes",
        ),
        ("[style]\nsizes = [17]", "style.sizes: hsc forms a dense pixel Hessian, so 3 size^2"),
        ("[style]\ncontent = 'cat.png'", "style.content must be one of shapes, stripes"),
        (
            "[style]\nmethods = ['lbfgs']\n[style.lr]\nlbfgs = [1.0]",
            "style.lr.lbfgs: lbfgs takes no step size",
        ),
        ("[style]\nmethods = ['adam']\nmu = 0.5", "style: adam takes no correction parameters"),
        ("[style]\nline_search = 1", "style.line_search must be true or false, got 1"),
        ("[style]\nmethods = ['hsc']\nmu = {damped = 1.0}", "style.mu.damped is not a known key"),
        (
            "[style]\nmethods = ['damped']\nmu = {damped = 0}",
            "style.mu.damped must be a positive number, got 0",
        ),
        ("[style]\nmethods = ['damped']", "style: bad parameters for correction 'damped'"),
        ("[gan]\nsteps = 3\n[gan", "the spec is not valid TOML"),
        (
            f"[gan]\nseeds = {list(range(MAX_RUNS + 1))}",
            f"the spec plans {MAX_RUNS + 1} runs; at most {MAX_RUNS} are allowed",
        ),
    ],
)
def test_each_rule_names_the_key_and_the_rule(text, message):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert message in str(info.value)


def test_a_spec_error_is_a_value_error_so_the_cli_refuses_it_with_status_2():
    assert issubclass(SpecError, ValueError)


def test_grid_mode_plans_method_setting_step_size_and_seed():
    spec = parse_spec(
        "[gan]\ndata = ['ring', 'dirac']\nhidden = [[4], [2, 2]]\nmethods = ['hsc', 'sgd']\n"
        "seeds = [0, 1, 2]\n[gan.lr]\nhsc = [0.1, 1.0]\n"
        "[style]\nsizes = [4, 6]\nmethods = ['lbfgs', 'adam']\nseeds = [5]\n"
    )
    runs = spec.grid_runs()
    gan = [r for r in runs if r.kind == "gan"]
    # ring: 2 widths, dirac: 1 (no MLPs); hsc: 2 step sizes, sgd: its default; 3 seeds
    assert len(gan) == (2 + 1) * (2 + 1) * 3
    assert {r.lr for r in gan if r.method == "sgd"} == {DEFAULT_LR["sgd"]}
    assert {r.setting for r in gan} == {"ring h4", "ring h2-2", "dirac"}
    style = [r for r in runs if r.kind == "style"]
    assert len(style) == 2 * 2 * 1 and {r.lr for r in style} == {None}
    assert {r.seed for r in style} == {5} and {r.config["seed"] for r in style} == {0}
    assert len({r.key for r in runs}) == len(runs) == spec.planned_count()


def test_tune_confirm_counts_tuning_and_confirmation_runs():
    spec = parse_spec(
        TUNE
        + "[gan]\ndata = ['dirac']\ntune_seeds = [10, 11]\n"
        + CONFIRM
        + "[gan.lr]\nhsc = [0.5, 1.0, 2.0]\n"
    )
    assert len(spec.grid_runs()) == 3 * 2  # the tuning runs
    assert spec.planned_count() == 3 * 2 + 10


def test_style_parameters_go_to_one_method_or_to_all():
    spec = parse_spec(
        "[style]\nsizes = [4]\nmethods = ['hsc', 'damped', 'clip']\n"
        "mu = {damped = 0.5}\ndelta = {clip = 0.1}"
    )
    params = {r.method: {k: r.config.get(k) for k in ("mu", "delta")} for r in spec.grid_runs()}
    assert params == {
        "hsc": {"mu": None, "delta": None},
        "damped": {"mu": 0.5, "delta": None},
        "clip": {"mu": None, "delta": 0.1},
    }
    (run,) = parse_spec("[style]\nsizes = [4]\nmethods = ['fill']\nmu = 2").grid_runs()
    assert run.config["mu"] == 2.0


def test_run_keys_are_stable_and_differ_when_any_option_differs():
    a = RunSpec.build(
        "gan", {"data": "ring", "hidden": [4], "method": "hsc", "lr": 1.0, "seed": 0, "steps": 5}
    )
    same = RunSpec.build(
        "gan", {"steps": 5, "seed": 0, "lr": 1.0, "method": "hsc", "hidden": (4,), "data": "ring"}
    )
    other = RunSpec.build("gan", {**a.config, "steps": 6})
    assert a.key == same.key and a.key != other.key
    assert a.key.startswith("gan-ring-h4-hsc-lr1-seed0-")
    assert RunSpec.from_json(a.to_json()) == a


@pytest.mark.parametrize(
    "text",
    [
        "[gan]\ndata = ['grid']\nhidden = [[8, 8]]\nmethods = ['damped']\nmu = 0.5\n"
        "schedule = 'simultaneous'\nloss = 'minimax'\nspectrum_every = 3\nn_eval = 100",
        "[gan]\ndata = ['dirac']\nmethods = ['conopt']\ngamma = 10.0\nsteps = 3",
        "[gan]\ndata = ['dirac']\nmethods = ['sga']\nsga_lambda = 0.5\nsteps = 3",
        "[style]\nsizes = [6]\nmethods = ['damped']\nmu = 0.1\nline_search = true\n"
        "style_weight = 1e4\nconvention = 'keras_example'\ncontent = 'waves'\nimage_seed = 3",
    ],
)
def test_each_run_command_parses_and_gives_back_the_runs_options(text):
    # the command recorded beside each run is the one that computes it (tests/sweep/
    # test_engine.py runs them); here: it parses to the same options
    (run,) = parse_spec(text).grid_runs()
    args = build_parser().parse_args(shlex.split(run.command("OUT"))[1:])
    applies = gan_applicable(run.config) if run.kind == "gan" else run.config
    for name, value in run.options:
        if name not in applies:  # spectrum_every of 'damped' changes nothing: not carried
            assert f"--{name.replace('_', '-')}" not in run.command("OUT"), name
            continue
        if name == "weights":
            got = (args.content_weight, args.style_weight, args.tv_weight)
        else:
            got = getattr(args, name)
        assert (tuple(got) if isinstance(value, tuple) else got) == value, name
    assert args.out == "OUT" and args.no_plots


def test_read_spec_reads_a_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[gan]\ndata = ['dirac']\n", encoding="utf-8")
    assert read_spec(path).grid_runs()[0].setting == "dirac"
    with pytest.raises(FileNotFoundError, match=r"sweep spec .* does not exist"):
        read_spec(tmp_path / "none.toml")


ROOT = Path(__file__).resolve().parents[2]


def test_the_specs_the_docs_show_and_ship_are_valid_and_plan_what_the_page_says():
    page = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", page, flags=re.DOTALL)
    assert blocks, "docs/experiments.md shows a spec"
    for block in blocks:
        parse_spec(block)
    shipped = {p.name: read_spec(p) for p in sorted((ROOT / "docs" / "sweeps").glob("*.toml"))}
    assert shipped["tiny-protocol.toml"].planned_count() == 241  # "A sweep of 241 runs"
    assert shipped["tiny-protocol.toml"].mode == "tune-confirm"
    assert shipped["per-step-cost.toml"].planned_count() == 14 + 7


def test_game_methods_run_simultaneously_and_take_their_own_parameters_only():
    spec = parse_spec(
        "[gan]\ndata = ['dirac']\nmethods = ['hsc', 'conopt', 'sga', 'cgd']\n"
        "gamma = 10.0\nsga_lambda = 2.0\nsteps = 3"
    )
    runs = {r.method: r.config for r in spec.grid_runs()}
    assert {m: c["schedule"] for m, c in runs.items()} == {
        "hsc": "alternating",
        "conopt": "simultaneous",
        "sga": "simultaneous",
        "cgd": "simultaneous",
    }
    assert [runs[m].get("gamma") for m in runs] == [None, 10.0, None, None]
    assert [runs[m].get("sga_lambda") for m in runs] == [None, None, 2.0, None]
    with pytest.raises(SpecError, match=r"gan\.gamma applies only to method conopt"):
        parse_spec("[gan]\nmethods = ['hsc']\ngamma = 2.0")
    with pytest.raises(SpecError, match="defined for schedule='simultaneous' only"):
        parse_spec("[gan]\nmethods = ['optimistic']\nschedule = 'alternating'")
