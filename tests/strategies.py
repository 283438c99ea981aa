"""The Hypothesis strategies of the test suite: :mod:`hsc_ref.strategies`, re-exported.

Import from a test module with ``from strategies import ...`` (pytest puts ``tests/`` on
``sys.path``); the strategies themselves are installed with the package (``hsc_ref.strategies``).
"""

from __future__ import annotations

from hsc_ref.strategies import *  # noqa: F403
from hsc_ref.strategies import __all__  # noqa: F401
