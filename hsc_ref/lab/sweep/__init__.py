"""Sweeps of GAN and style runs on Dask, and the tune-then-confirm protocol (``hsc-ref sweep``).

Its private modules: ``_spec`` reads and validates the TOML spec, ``_protocol`` chooses step
sizes on tuning seeds and plans confirmation runs, ``_engine`` runs them on Dask distributed
(extra ``sweep``) and stores each run atomically, and ``_report`` rebuilds tables and plots
from the stored runs. Dask is imported only when a sweep runs.
"""

from hsc_ref.lab.sweep._engine import SweepResult, run_sweep
from hsc_ref.lab.sweep._protocol import plan
from hsc_ref.lab.sweep._report import median_ci, write_report
from hsc_ref.lab.sweep._spec import SpecError, SweepSpec, parse_spec, read_spec

__all__ = [
    "parse_spec",
    "read_spec",
    "SpecError",
    "SweepSpec",
    "plan",
    "run_sweep",
    "SweepResult",
    "write_report",
    "median_ci",
]
