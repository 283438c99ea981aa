"""Loading and running the scripts in ``examples/`` from the smoke tests, and running any
command single-threaded."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (its ``__main__`` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_single_threaded(*command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``command`` with one OpenMP/OpenBLAS thread and text output captured.

    The test machines' cores are shared, so a subprocess must not start a BLAS pool per core.
    A non-zero exit does not raise: the caller asserts on ``returncode`` and shows ``stderr``.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``examples/<name>.py`` as a script, single-threaded, with a 120 s limit."""
    return run_single_threaded(sys.executable, str(EXAMPLES / f"{name}.py"), *args)
