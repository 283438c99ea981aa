"""Type aliases shared by the core: what functions accept and what they return.

``ArrayLike`` (NumPy's) is what a public function accepts and validates at its boundary;
``Array`` is what it returns: a NumPy ``ndarray``, or, where the input was another array-API
library's array (PyTorch, JAX, CuPy, ...), an array of that library, dtype and device (the
linear algebra keeps the caller's kind, see :mod:`hsc_ref._backend`). Those libraries are
optional, so ``Array`` cannot name their types statically and stays an alias of ``Any`` with
this meaning.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

__all__: list[str] = []

Array = Any
"""A NumPy ``ndarray`` or, for another library's input, an array of that library."""

__all__ = ["Array", "ArrayLike"]
