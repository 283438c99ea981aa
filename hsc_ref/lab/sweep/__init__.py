"""Sweeps of GAN and style runs on Dask, and the tune-then-confirm protocol (``hsc-ref sweep``).

:mod:`~hsc_ref.lab.sweep.spec` reads and validates the TOML spec, :mod:`~hsc_ref.lab.sweep.protocol`
chooses step sizes on tuning seeds and plans confirmation runs, :mod:`~hsc_ref.lab.sweep.engine`
runs them on Dask distributed (extra ``sweep``) and stores each run atomically, and
:mod:`~hsc_ref.lab.sweep.report` rebuilds tables and plots from the stored runs. Dask is
imported only when a sweep runs.
"""

from hsc_ref.lab.sweep.engine import SweepResult, run_sweep
from hsc_ref.lab.sweep.protocol import Selection, plan
from hsc_ref.lab.sweep.report import median_ci, write_report
from hsc_ref.lab.sweep.spec import RunSpec, SpecError, SweepSpec, parse_spec, read_spec

__all__ = [
    "parse_spec",
    "read_spec",
    "SpecError",
    "SweepSpec",
    "RunSpec",
    "plan",
    "Selection",
    "run_sweep",
    "SweepResult",
    "write_report",
    "median_ci",
]
