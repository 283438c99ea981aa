"""Bundled procedural images (generated from seeds, never downloaded) and image file I/O.

Images are float64 arrays of shape ``(H, W, 3)`` with values in ``[0, 1]``. Bundled images
need nothing beyond NumPy; writing PNG files (8-bit RGB) and reading user images (any format
Pillow knows) need Pillow, the optional extra ``image`` (matplotlib, extra ``plot``, also
brings it).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import _extras, _io, _limits, _validation
from hsc_ref.style.loss import check_image

__all__ = [
    "bundled_image",
    "load_image",
    "save_png",
]


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-center coordinates ``(y, x)`` in ``(0, 1)``, each of shape ``(size, size)``."""
    t = (np.arange(size) + 0.5) / size
    return np.meshgrid(t, t, indexing="ij")


def _shapes(size: int, rng: np.random.Generator) -> np.ndarray:
    """A disc and a square in two colours on a vertical background gradient."""
    y, x = _grid(size)
    image = np.stack([0.85 - 0.3 * y, 0.9 - 0.2 * y, 0.95 * np.ones_like(y)], axis=-1)
    cy, cx = rng.uniform(0.3, 0.45, 2)
    disc = (y - cy) ** 2 + (x - cx) ** 2 < 0.2**2
    image[disc] = rng.uniform(0.0, 1.0, 3) * [1.0, 0.4, 0.2]
    sy, sx = rng.uniform(0.55, 0.65, 2)
    square = (np.abs(y - sy) < 0.18) & (np.abs(x - sx) < 0.18)
    image[square] = rng.uniform(0.0, 1.0, 3) * [0.2, 0.6, 1.0]
    return image


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    """Diagonal stripes between two random colours, period about a quarter of the image."""
    y, x = _grid(size)
    period = rng.uniform(0.2, 0.3)
    phase = rng.uniform(0.0, 1.0)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * ((x + y) / period + phase))
    a, b = rng.uniform(0.0, 1.0, 3), rng.uniform(0.0, 1.0, 3)
    return t[..., None] * a + (1 - t[..., None]) * b


def _checkerboard(size: int, rng: np.random.Generator) -> np.ndarray:
    """A checkerboard of 4x4 cells (cells of ``size / 4`` pixels) in two random colours."""
    y, x = _grid(size)
    cells = (np.floor(4 * y) + np.floor(4 * x)) % 2
    a, b = rng.uniform(0.0, 0.4, 3), rng.uniform(0.6, 1.0, 3)
    return cells[..., None] * a + (1 - cells[..., None]) * b


def _noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth colour noise: white noise blurred by a periodic Gaussian (in Fourier space)."""
    white = rng.normal(size=(size, size, 3))
    f = np.fft.fftfreq(size)
    radius2 = f[:, None] ** 2 + f[None, :] ** 2
    kernel = np.exp(-radius2 / (2 * 0.08**2))[..., None]
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white, axes=(0, 1)) * kernel, axes=(0, 1)))
    smooth = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-12)
    return smooth


def _waves(size: int, rng: np.random.Generator) -> np.ndarray:
    """Concentric colour rings around a random centre."""
    y, x = _grid(size)
    cy, cx = rng.uniform(0.3, 0.7, 2)
    r = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    phases = rng.uniform(0.0, 2 * np.pi, 3)
    return 0.5 + 0.5 * np.sin(2 * np.pi * r[..., None] / 0.2 + phases)


BUNDLED_IMAGES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "shapes": _shapes,
    "stripes": _stripes,
    "checkerboard": _checkerboard,
    "noise": _noise,
    "waves": _waves,
}
"""Procedural image generators by name: ``fn(size, rng) -> (size, size, 3)`` in ``[0, 1]``."""


_WORKING_COPIES = 8
"""Float64 arrays of one image's size alive at once while a bundled image is generated, at
most: the noise image's white noise, its complex transform (two arrays' worth), the blurred
complex product (two) and the real result with its rescaled copy, and the final clip."""


def _check_size(size: Any) -> int:
    """``size`` of a square image: an integer of at least 4 whose pixels fit in memory."""
    size = _validation.check_count(size, "size", minimum=4)
    _limits.require_memory(
        _limits.array_bytes((size, size, 3, _WORKING_COPIES), 8),
        f"size = {size} (the image)",
        hint="pass a smaller size",
    )
    return size


def bundled_image(name: str, size: int = 16, *, seed: int = 0) -> np.ndarray:
    """Generate a bundled procedural image.

    Parameters
    ----------
    name : str
        A key of :data:`BUNDLED_IMAGES`.
    size : int, default 16
        Side length in pixels (square images), at least 4.
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for the colours and positions; the same seed gives
        the same image at every size (up to sampling).

    Returns
    -------
    ndarray, shape (size, size, 3), float64 in [0, 1]

    Examples
    --------
    >>> img = bundled_image("checkerboard", 8)
    >>> img.shape, bool(img.min() >= 0.0 and img.max() <= 1.0)
    ((8, 8, 3), True)
    """
    if not isinstance(name, str) or name not in BUNDLED_IMAGES:
        raise ValueError(f"image name must be one of {sorted(BUNDLED_IMAGES)}, got {name!r}")
    size = _check_size(size)
    rng = np.random.default_rng(_validation.check_count(seed, "seed"))
    image = BUNDLED_IMAGES[name](size, rng)
    return np.clip(image, 0.0, 1.0)


def load_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Read an image file with Pillow, convert to RGB, center-crop to a square and resize.

    Parameters
    ----------
    path : path
        Any format Pillow reads.
    size : int, optional
        Side of the square result (Lanczos resampling); default: the cropped size.

    Returns
    -------
    ndarray, shape (size, size, 3), float64 in [0, 1]

    Raises
    ------
    ImportError
        Without Pillow (install the extra ``image``).
    FileNotFoundError, ValueError
        Missing or unreadable file.
    """
    try:
        from PIL import Image, UnidentifiedImageError  # noqa: PLC0415  (optional extra)
    except ImportError as exc:
        raise ImportError(
            f"reading image files needs Pillow: {_extras.install_hint('Pillow')}"
        ) from exc
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"image file {path} is a folder, not an image")
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with warnings.catch_warnings():  # Pillow's own pixel limit, read from the header
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            handle = Image.open(path)
        with handle:
            rgb = handle.convert("RGB")
        side = min(rgb.size)
        left, top = (rgb.size[0] - side) // 2, (rgb.size[1] - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
        if size is not None:
            rgb = rgb.resize((_check_size(size),) * 2, Image.Resampling.LANCZOS)
        array = np.asarray(rgb, dtype=np.float64) / 255.0
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ValueError(f"image file {path} is too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"image file {path} could not be read as an image: {exc}") from exc
    return array


def resolve_image(spec: str, size: int, *, seed: int = 0) -> np.ndarray:
    """A bundled image name (see :data:`BUNDLED_IMAGES`) or an image file path, at ``size``.

    Examples
    --------
    >>> resolve_image("stripes", 6).shape
    (6, 6, 3)
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"image must be a bundled name or a file path (str), got {type(spec).__name__}"
        )
    if spec in BUNDLED_IMAGES:
        return bundled_image(spec, size, seed=seed)
    if not Path(spec).exists():
        raise FileNotFoundError(
            f"image must be a bundled name ({', '.join(sorted(BUNDLED_IMAGES))}) or an existing "
            f"file, got {spec!r}"
        )
    return load_image(spec, size)


def to_uint8(image: Any) -> np.ndarray:
    """``round(255 x)`` as uint8 after checking ``x`` is an image in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> to_uint8(np.array([[[0.0, 0.5, 1.0]]]))
    array([[[  0, 128, 255]]], dtype=uint8)
    """
    image = check_image(image, "image", channels=None)
    return np.round(image * 255.0).astype(np.uint8)


def save_png(path: str | os.PathLike, image: Any, *, overwrite: bool = False) -> Path:
    """Write an image as an 8-bit RGB PNG with Pillow, atomically; no overwrite unless asked.

    Parameters
    ----------
    path : path
        Target file.
    image : array, shape (H, W, 3)
        Values in ``[0, 1]``, stored as ``round(255 x)`` (:func:`to_uint8`).
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ImportError
        Without Pillow (extra ``image``; matplotlib, extra ``plot``, also brings it).
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    pixels = to_uint8(image)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise ValueError(f"image must have 3 channels to be saved as RGB, got {pixels.shape}")
    path = Path(path)
    if path.exists() and not overwrite:  # before the work, as atomic_write_bytes checks again
        raise FileExistsError(f"{path} exists; pass overwrite (--force) to replace it")
    try:
        from PIL import Image  # noqa: PLC0415  (optional extra)
    except ImportError as exc:
        raise ImportError(
            f"writing PNG images needs Pillow: {_extras.install_hint('Pillow')}"
        ) from exc
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return _io.atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def upscale(image: Any, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor (keeps pixels crisp in figures).

    Examples
    --------
    >>> import numpy as np
    >>> upscale(np.ones((2, 3, 3)), 4).shape
    (8, 12, 3)
    """
    factor = _validation.check_count(factor, "factor", minimum=1)
    image = check_image(image, "image", channels=None)
    _limits.require_memory(
        2 * image.nbytes * factor**2,  # the result and the row-repeated step, no larger
        f"factor = {factor} (the upscaled image)",
        hint="pass a smaller factor",
    )
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def side_by_side(images: list[Any], *, factor: int = 8, gap: int = 4) -> np.ndarray:
    """Upscale images of equal height and join them left to right with white gaps.

    Examples
    --------
    >>> import numpy as np
    >>> side_by_side([np.zeros((2, 2, 3))] * 3, factor=2, gap=1).shape
    (4, 14, 3)
    """
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"images must be a non-empty list of images, got {images!r:.60}")
    gap = _validation.check_count(gap, "gap")
    tiles = [upscale(check_image(im, f"images[{i}]"), factor) for i, im in enumerate(images)]
    height = tiles[0].shape[0]
    if any(t.shape[0] != height for t in tiles):
        raise ValueError(f"images must share one height, got {[im.shape for im in images]}")
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    _limits.require_memory(
        _limits.array_bytes((2, height, width, 3), 8),  # the tiles and their concatenation
        f"gap = {gap} and factor = {factor} (the joined image)",
        hint="pass a smaller gap or factor",
    )
    spacer = np.ones((height, gap, 3))
    parts = [tiles[0]]
    for tile in tiles[1:]:
        parts += [spacer, tile]
    return np.concatenate(parts, axis=1)
