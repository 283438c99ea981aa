"""Root pytest configuration: skip doctests of modules whose optional extra is not installed.

The tests under ``tests/`` skip the same features with ``pytest.importorskip``; CI installs the
extras, so everything runs there.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore.append("hsc_ref/plotting.py")
