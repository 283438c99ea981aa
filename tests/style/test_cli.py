"""``hsc-ref style`` end to end and the demo's style section."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from hsc_ref.cli import DEMO_SECTIONS, main
from hsc_ref.lab._style_run import DATA_FILES, IMAGE_FILES, PLOT_FILES
from hsc_ref.style._demo import style_demo
from hsc_ref.style.images import bundled_image, save_png

MANIFEST = "manifest.json"


def _run(tmp_path, *extra):
    return main(
        ["style", "--size", "8", "--steps", "2", "--no-progress", "--out", str(tmp_path), *extra]
    )


def test_style_cli_writes_image_figure_curves_and_metrics(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    assert _run(tmp_path, "--method", "hsc", "--line-search") == 0
    for name in ("result.npy", "result.png", "figure.png", "losses.png", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    image = np.load(tmp_path / "result.npy", allow_pickle=False)
    assert image.shape == (8, 8, 3) and image.dtype == np.float64
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_unknowns"] == 192 and len(metrics["losses"]) == 3
    assert metrics["final_loss"] <= metrics["initial_loss"]  # Armijo backtracking
    assert len(metrics["history"]["rank"]) == 2
    assert metrics["extractor"]["seed"] == 0 and metrics["image_seeds"] == {
        "content": 0,
        "style": 1,
    }


def test_the_style_figure_names_each_panel_in_a_band_above_it(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    assert _run(tmp_path, "--method", "lbfgs", "--no-plots") == 0
    figure = np.asarray(PIL.open(tmp_path / "figure.png").convert("RGB"))
    panel, gap, band = 8 * 16, 4, 16  # 8 x 8 images upscaled to 128 pixels, 4 apart
    assert figure.shape == (band + panel, 3 * panel + 2 * gap, 3)
    np.testing.assert_array_equal(figure[band:, panel : panel + gap], 255)  # the white gaps
    for index in range(3):  # content, style, the result: dark text over each panel only
        left = index * (panel + gap)
        label = figure[:band, left : left + panel]
        assert (label < 128).any(), f"panel {index} has no label"
    between = figure[:band, panel : panel + gap]
    assert (between == 255).all()


def test_style_cli_refuses_to_overwrite_without_force(tmp_path, capsys):
    assert _run(tmp_path, "--method", "lbfgs", "--no-plots") == 0
    assert _run(tmp_path, "--method", "lbfgs", "--no-plots") == 2
    assert "--force" in capsys.readouterr().err
    assert _run(tmp_path, "--method", "adam", "--no-plots", "--force") == 0
    other = tmp_path / "other"
    assert _run(other, "--method", "adam", "--no-plots", "--feature-seed", "3") == 0
    metrics = json.loads((other / "metrics.json").read_text())
    assert metrics["extractor"]["seed"] == 3
    first = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["initial_loss"] != first["initial_loss"]  # other features, other loss


def test_style_cli_reads_user_images(tmp_path):
    pytest.importorskip("PIL")
    path = save_png(tmp_path / "mine.png", bundled_image("waves", 20))
    out = tmp_path / "out"
    assert _run(out, "--content", str(path), "--method", "lbfgs", "--no-plots") == 0
    assert json.loads((out / "metrics.json").read_text())["content"] == str(path)


def test_style_cli_bad_input_exits_2_with_a_message(tmp_path, capsys):
    big = ["style", "--size", "17", "--method", "hsc", "--out", str(tmp_path / "a")]
    assert main([*big, "--no-progress"]) == 2
    assert "at most 768 unknowns" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert _run(tmp_path / "b", "--content", str(bad)) == 2
    err = capsys.readouterr().err
    try:  # without Pillow (extra 'image') the same file gets an install hint, also exit 2
        import PIL  # noqa: F401
    except ModuleNotFoundError:
        assert "needs Pillow" in err
    else:
        assert "could not be read" in err
    assert _run(tmp_path / "c", "--style", "no_such_picture") == 2
    assert "bundled name" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_demo_has_a_style_section_comparing_lbfgs_and_hsc():
    assert "style" in [name for name, _ in DEMO_SECTIONS]
    report = style_demo(size=6, steps=2)
    assert "lbfgs" in report and "hsc" in report and "rank" in report
    assert np.isfinite(float(report.split("lbfgs")[1].split()[0]))


def _skip_notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if "skipped" in line]


def test_style_without_matplotlib_writes_the_rest_and_names_losses_png(
    tmp_path, capsys, monkeypatch
):
    pytest.importorskip("PIL")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert _run(tmp_path, "--method", "lbfgs") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        (*DATA_FILES, *IMAGE_FILES, MANIFEST)
    )
    assert _skip_notes(capsys.readouterr().err) == [
        "hsc-ref style: skipped losses.png (needs matplotlib: pip install 'hsc-ref[plot]')"
    ]


def test_style_without_pillow_or_matplotlib_writes_its_data_and_one_line(
    tmp_path, capsys, monkeypatch
):
    for name in ("PIL", "PIL.Image", "matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    assert _run(tmp_path, "--method", "lbfgs") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted((*DATA_FILES, MANIFEST))
    assert _skip_notes(capsys.readouterr().err) == [
        "hsc-ref style: the image is result.npy (numpy.load); skipped result.png, figure.png "
        "(needs Pillow: pip install 'hsc-ref[image]'); losses.png (needs matplotlib: pip "
        "install 'hsc-ref[plot]')"
    ]
    assert _run(tmp_path / "quiet", "--method", "lbfgs", "--no-plots") == 0
    assert "losses.png" not in capsys.readouterr().err  # --no-plots: not asked for


def test_style_refuses_before_any_work_when_one_output_exists(tmp_path, capsys):
    for name in DATA_FILES + IMAGE_FILES + PLOT_FILES:
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_text("mine")
        assert _run(folder, "--method", "lbfgs") == 2
        assert f"{name} exists; pass --force" in capsys.readouterr().err
        assert [p.name for p in folder.iterdir()] == [name]
        assert (folder / name).read_text() == "mine"
