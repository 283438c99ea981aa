"""``python -m hsc_ref`` and the ``hsc-ref`` script: :func:`hsc_ref.cli.main`, via :func:`entry`.

This module imports nothing but ``sys`` before :func:`entry` runs, so that a Ctrl-C while
the command line's own modules load ends as any other Ctrl-C does: one line and status 130.
What Python does before it runs this module (its ``site`` start-up, importing the ``hsc_ref``
package) is outside any handler hsc_ref can install.
"""

from __future__ import annotations

import sys

__all__: list[str] = []

_INTERRUPTED = 130
"""``hsc_ref.cli.EXIT_INTERRUPTED``, which cannot be read before ``hsc_ref.cli`` is imported."""


def entry() -> int:
    """Import :mod:`hsc_ref.cli` and run its :func:`~hsc_ref.cli.main`; a Ctrl-C at any
    moment of it ends in one line and status 130.

    ``main`` handles the interrupts of a command itself (a checkpointing run says where it
    stopped); this handles one during the import of ``hsc_ref.cli`` (argparse, json, ...),
    or one that lands outside ``main``'s handler, as ``main`` returns.

    Returns
    -------
    int
        The exit status (``hsc_ref.cli.EXIT_CODES``).
    """
    try:
        from hsc_ref.cli import main  # noqa: PLC0415  (inside the handler: the point)

        return main()
    except KeyboardInterrupt:
        print("hsc-ref: interrupted", file=sys.stderr)
        return _INTERRUPTED


if __name__ == "__main__":
    sys.exit(entry())
