"""Bundled procedural images, PNG writing and loading with Pillow."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hsc_ref.style.images import (
    BUNDLED_IMAGES,
    bundled_image,
    load_image,
    resolve_image,
    save_png,
    side_by_side,
    to_uint8,
    upscale,
)


@pytest.mark.parametrize("name", sorted(BUNDLED_IMAGES))
def test_bundled_images_are_seeded_rgb_in_unit_range(name):
    a, b = bundled_image(name, 12, seed=5), bundled_image(name, 12, seed=5)
    assert a.shape == (12, 12, 3) and a.dtype == np.float64
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, b)
    assert not np.array_equal(a, bundled_image(name, 12, seed=6))
    assert a.std() > 0.05  # not a flat image


def test_bundled_image_rejects_unknown_names_and_sizes():
    with pytest.raises(ValueError, match="image name must be one of"):
        bundled_image("mona_lisa")
    with pytest.raises(ValueError, match="size must be an integer >= 4"):
        bundled_image("shapes", 2)
    with pytest.raises(ValueError, match="size must be an integer >= 4"):
        bundled_image("shapes", 8.0)


def test_png_round_trips_through_pillow(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    img = bundled_image("noise", 9)
    path = save_png(tmp_path / "a.png", img)
    with image_module.open(path) as handle:
        back = np.asarray(handle.convert("RGB"))
    assert np.array_equal(back, to_uint8(img))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        save_png(path, np.zeros_like(img))
    assert path.read_bytes() == before
    save_png(path, np.zeros_like(img), overwrite=True)
    with image_module.open(path) as handle:
        assert not np.asarray(handle).any()
    with pytest.raises(ValueError, match="3 channels"):
        save_png(tmp_path / "gray.png", np.zeros((2, 2, 1)))


def test_without_pillow_writing_and_reading_say_which_extra_to_install(tmp_path, monkeypatch):
    pytest.importorskip("PIL.Image")
    bundled_image("shapes", 4)  # bundled images need no extra
    save_png(tmp_path / "a.png", bundled_image("shapes", 4))
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(
        ImportError, match=r"writing PNG images needs Pillow: pip install 'hsc-ref\[image\]'"
    ):
        save_png(tmp_path / "b.png", bundled_image("shapes", 4))
    assert not (tmp_path / "b.png").exists()
    with pytest.raises(
        ImportError, match=r"reading image files needs Pillow: pip install 'hsc-ref\[image\]'"
    ):
        load_image(tmp_path / "a.png")


def test_load_image_center_crops_resizes_and_scales_to_unit_range(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    wide = np.zeros((10, 30, 3), dtype=np.uint8)
    wide[:, 10:20] = 255  # white centre square, black borders left and right
    image_module.fromarray(wide).save(tmp_path / "wide.png")
    full = load_image(tmp_path / "wide.png")
    assert full.shape == (10, 10, 3) and np.all(full == 1.0)  # the crop keeps the centre
    small = load_image(tmp_path / "wide.png", 4)
    assert small.shape == (4, 4, 3) and small.min() >= 0.0 and small.max() <= 1.0
    assert resolve_image(str(tmp_path / "wide.png"), 6).shape == (6, 6, 3)


def test_unreadable_and_missing_files_get_clear_errors(tmp_path):
    pytest.importorskip("PIL.Image")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="could not be read as an image"):
        load_image(bad, 8)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(tmp_path / "missing.png", 8)
    with pytest.raises(FileNotFoundError, match="bundled name"):
        resolve_image("no_such_image", 8)


def test_side_by_side_and_upscale_shapes_and_errors():
    a = bundled_image("shapes", 4)
    assert np.array_equal(upscale(a, 2)[::2, ::2], a)
    assert side_by_side([a, a], factor=3, gap=2).shape == (12, 26, 3)
    with pytest.raises(ValueError, match="share one height"):
        side_by_side([a, bundled_image("shapes", 5)])
    with pytest.raises(ValueError, match="factor must be a positive integer"):
        upscale(a, 0)
    with pytest.raises(ValueError, match="non-empty"):
        side_by_side([])
