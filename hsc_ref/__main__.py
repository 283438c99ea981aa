"""``python -m hsc_ref``: the ``hsc-ref`` command line (:func:`hsc_ref.cli.main`)."""

from __future__ import annotations

import sys

from hsc_ref.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
