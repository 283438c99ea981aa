"""Which GAN options apply to which method or data set: one table (:data:`SCOPES`).

An option that changes nothing for a run is not silently accepted: ``hsc-ref gan`` refuses it
(:func:`refusal`), ``metrics.json`` does not record it (:func:`applicable`) and a sweep's run
command does not carry it. A method that takes its own option declares it once, with its
default and a few words on what it does, in its registry entry (``hsc_ref.gan.train`` for the
per-player methods, ``hsc_ref.gan.methods`` for the game-aware ones); other scopes are entries
``SCOPES["option"] = Scope("data", ("ring", "grid"), "why")``, where ``option`` is the
:class:`~hsc_ref.gan.train.TrainConfig` field behind ``--option``. Options without an entry
apply to every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from hsc_ref.gan.data import DATASETS
from hsc_ref.gan.train import (
    _FIELD_DEFAULTS,
    HESSIAN_METHODS,
    METHOD_ALIASES,
    METHODS,
    OPTION_TAKERS,
    OPTIONS,
)

__all__: list[str] = []


class Scope(NamedTuple):
    """An option applies to the runs whose ``field`` (``method`` or ``data``) is in ``values``."""

    field: str
    values: tuple[str, ...]
    why: str


SCOPES: dict[str, Scope] = {
    **{name: Scope("method", OPTION_TAKERS[name], option.why) for name, option in OPTIONS.items()},
    "spectrum_every": Scope(
        "method",
        tuple(m for m in METHODS if m not in HESSIAN_METHODS),
        "a method that uses the Hessian records its spectrum every step",
    ),
    "hidden": Scope("data", tuple(d for d in DATASETS if d != "dirac"), "DiracGAN has no MLPs"),
}
"""Options that apply to some runs only, by :class:`~hsc_ref.gan.train.TrainConfig` field."""


def _applies(name: str, options: Mapping[str, Any]) -> bool:
    scope = SCOPES.get(name)
    if scope is None:
        return True
    value = options.get(scope.field, _FIELD_DEFAULTS[scope.field])
    return METHOD_ALIASES.get(value, value) in scope.values


def applicable(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (TrainConfig fields) without those that do not apply to its method and data.

    Examples
    --------
    >>> applicable({"method": "adam", "mu": 1.0, "data": "dirac", "hidden": (8,), "seed": 0})
    {'method': 'adam', 'data': 'dirac', 'seed': 0}
    """
    return {k: v for k, v in options.items() if _applies(k, options)}


def refusal(options: Mapping[str, Any]) -> str | None:
    """Why ``options`` set an option that does not apply (to a value other than its default).

    Examples
    --------
    >>> print(refusal({"method": "adam", "mu": 3.0}))
    --mu applies to --method damped only (the damping of (H + mu I)^+), got --method adam
    >>> refusal({"method": "adam", "mu": 1.0}) is None  # the default changes nothing either
    True
    """
    for name, scope in SCOPES.items():
        if (
            name in options
            and options[name] != _FIELD_DEFAULTS[name]
            and not _applies(name, options)
        ):
            option = "--" + name.replace("_", "-")
            given = options.get(scope.field, _FIELD_DEFAULTS[scope.field])
            return (
                f"{option} applies to --{scope.field} {', '.join(scope.values)} only "
                f"({scope.why}), got --{scope.field} {given}"
            )
    return None
