"""Type aliases shared by the core: what functions accept and what they return.

``ArrayLike`` (NumPy's) is what a public function accepts and validates at its boundary;
``Array`` is what it returns: a NumPy ``ndarray``, or a CuPy array when the input was one (the
linear algebra keeps the caller's kind, see :mod:`hsc_ref._backend`). CuPy is optional, so
``Array`` cannot name its type statically and stays an alias of ``Any`` with this meaning.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

__all__: list[str] = []

Array = Any
"""A NumPy ``ndarray`` or, for GPU input, a CuPy array of the same shape and dtype."""

__all__ = ["Array", "ArrayLike"]
