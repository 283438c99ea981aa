"""The TOML spec of a sweep, validated once, and the runs it plans.

A spec has a top-level ``mode`` (``"grid"``, the default, or ``"tune-confirm"``) and a
``[gan]`` and/or a ``[style]`` table. Each table lists methods, settings (GAN: data sets and
hidden widths; style: image sizes), a step-size grid per method in a ``lr`` sub-table (a
method without one runs at its default step size), the fixed options of every run, and
seeds: ``seeds`` in grid mode; ``tune_seeds``, ``confirm_seeds`` (at least
:data:`MIN_CONFIRM_SEEDS`, none shared with the tuning seeds) and an optional ``criterion``
in tune-confirm mode. A GAN seed is ``TrainConfig.seed``; a style seed is the feature
extractor's seed (``--feature-seed``), the images staying fixed (``image_seed``).

Every run is one :class:`RunSpec`: the options ``hsc-ref gan`` or ``hsc-ref style`` would be
given, so a run computes exactly what that command computes. Bad input raises
:class:`SpecError` naming the key (``gan.lr.hsc``) and the rule.

Examples
--------
>>> spec = parse_spec('''
... [gan]
... data = ["dirac"]
... methods = ["hsc", "sgd"]
... steps = 5
... seeds = [0, 1]
... [gan.lr]
... hsc = [0.5, 1.0]
... ''')
>>> [(r.method, r.lr, r.seed) for r in spec.grid_runs()][:3]
[('hsc', 0.5, 0), ('hsc', 0.5, 1), ('hsc', 1.0, 0)]
>>> len(spec.grid_runs())                          # hsc: 2 lr x 2 seeds; sgd: default lr
6
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsc_ref.corrections import _parameter_takers, get_correction
from hsc_ref.gan._options import applicable as gan_applicable
from hsc_ref.gan.data import DATASETS
from hsc_ref.gan.game import LOSSES
from hsc_ref.gan.train import (
    _FIELD_DEFAULTS,
    DEFAULT_LR,
    GAME_METHODS,
    METHOD_ALIASES,
    METHOD_OPTIONS,
    METHODS,
    OPTION_TAKERS,
    OPTIONS,
    SCHEDULES,
    TrainConfig,
)
from hsc_ref.style.images import BUNDLED_IMAGES
from hsc_ref.style.loss import CONVENTIONS
from hsc_ref.style.optimize import IMAGE_METHODS, MAX_DENSE_UNKNOWNS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli (extra "sweep")
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

__all__ = [
    "MODES",
    "KINDS",
    "MIN_CONFIRM_SEEDS",
    "MAX_RUNS",
    "METRIC_GOALS",
    "SpecError",
    "RunSpec",
    "Section",
    "SweepSpec",
    "parse_spec",
    "read_spec",
]

MODES = ("grid", "tune-confirm")
"""``grid``: every method x setting x step size x seed. ``tune-confirm``: tune, then confirm."""

KINDS = ("gan", "style")
"""The run kinds: ``hsc-ref gan`` and ``hsc-ref style``."""

MIN_CONFIRM_SEEDS = 10
"""Fewest confirmation seeds in tune-confirm mode."""

MAX_RUNS = 100_000
"""Most runs one spec may plan (checked before anything runs)."""

METRIC_GOALS = {
    "gan": {
        "modes_captured": "max",
        "high_quality_fraction": "max",
        "reverse_kl": "min",
        "distance_to_equilibrium": "min",
    },
    "style": {"final_loss": "min"},
}
"""Metrics a tuning criterion may name, per kind, and whether higher or lower is better."""

_DEFAULT_CRITERIA = {
    "gan": ("modes_captured", "high_quality_fraction"),
    "dirac": ("distance_to_equilibrium",),
    "style": ("final_loss",),
}
_MODE_METRICS = ("modes_captured", "high_quality_fraction", "reverse_kl")


class SpecError(ValueError):
    """A sweep spec that breaks a rule; the message names the key and the rule."""


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a kind and the options of its command.

    Attributes
    ----------
    kind : {"gan", "style"}
    options : tuple of (str, object)
        Sorted ``(name, value)`` pairs: :class:`~hsc_ref.gan.train.TrainConfig` fields for
        GAN runs; keyword arguments of :func:`hsc_ref.lab._style_run.run_to_folder` for style
        runs. Lists are tuples.
    """

    kind: str
    options: tuple[tuple[str, Any], ...]

    @classmethod
    def build(cls, kind: str, options: Mapping[str, Any]) -> RunSpec:
        """A run from a mapping of options (lists become tuples, keys are sorted)."""
        frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        return cls(kind, tuple(sorted(frozen.items())))

    @property
    def config(self) -> dict[str, Any]:
        """The options as a dict."""
        return dict(self.options)

    @property
    def method(self) -> str:
        """The method name."""
        return self.config["method"]

    @property
    def lr(self) -> float | None:
        """The step size (None: the method's default, or none for L-BFGS-B)."""
        return self.config.get("lr")

    @property
    def seed(self) -> int:
        """The seed that varies across repeats (GAN seed, style feature seed)."""
        return self.config["seed" if self.kind == "gan" else "feature_seed"]

    @property
    def setting(self) -> str:
        """The setting, without method, step size and seed: ``"ring h16"``, ``"16x16"``."""
        c = self.config
        if self.kind == "style":
            return f"{c['size']}x{c['size']}"
        if c["data"] == "dirac":
            return "dirac"
        return f"{c['data']} h{'-'.join(str(w) for w in c['hidden'])}"

    @property
    def key(self) -> str:
        """A folder name: readable fields and a hash of every option.

        Examples
        --------
        >>> RunSpec.build("gan", {"data": "dirac", "method": "hsc", "lr": 1.0, "seed": 3}).key
        'gan-dirac-hsc-lr1-seed3-a0ffabe4ef'
        """
        canonical = json.dumps([self.kind, self.config], sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
        lr = "default" if self.lr is None else f"{self.lr:g}"
        setting = self.setting.replace(" ", "-")
        return f"{self.kind}-{setting}-{self.method}-lr{lr}-seed{self.seed}-{digest}"

    def to_json(self) -> dict[str, Any]:
        """``{"kind": ..., "options": {...}}``, JSON-ready."""
        return {"kind": self.kind, "options": {k: _plain(v) for k, v in self.options}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSpec:
        """The inverse of :meth:`to_json`."""
        return cls.build(data["kind"], data["options"])

    def command(self, out: str = "OUT") -> str:
        """The ``hsc-ref`` command line that computes the same run.

        Examples
        --------
        >>> RunSpec.build("gan", {"data": "dirac", "method": "hsc", "lr": 1.0, "seed": 3,
        ...                       "steps": 5}).command()
        'hsc-ref gan --data dirac --lr 1.0 --method hsc --seed 3 --steps 5 --out OUT --no-plots'
        """
        words = ["hsc-ref", self.kind]
        config = self.config
        for name, value in self.options:
            if self.kind == "gan" and name not in gan_applicable(config):
                continue  # e.g. --mu of an Adam run: hsc-ref gan refuses what changes nothing
            words += _option_words(self.kind, name, value)
        return " ".join([*words, "--out", out, "--no-plots"])


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _option_words(kind: str, name: str, value: Any) -> list[str]:
    """The command-line words of one option (``hidden=(8, 8)`` -> ``--hidden 8,8``)."""
    if kind == "style" and name == "weights":
        names = ("--content-weight", "--style-weight", "--tv-weight")
        return [w for n, v in zip(names, value, strict=True) for w in (n, _word(v))]
    if value is None:
        return []
    option = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [option] if value else []
    if isinstance(value, tuple):
        return [option, ",".join(str(v) for v in value)]
    return [option, _word(value)]


def _word(value: Any) -> str:
    """A value as the command line must spell it to get it back exactly (``repr`` of floats).

    Examples
    --------
    >>> _word(0.123456789), _word(1e-05), _word(3)
    ('0.123456789', '1e-05', '3')
    """
    return repr(value) if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- reading the TOML


_COMMON_KEYS = ("methods", "steps", "lr", "seeds", "tune_seeds", "confirm_seeds", "criterion")
_GAN_KEYS = (
    "data",
    "hidden",
    "batch",
    "n_eval",
    "loss",
    "schedule",
    "spectrum_every",
)
"""The gan table's keys besides the methods' options (``mu``, ``gamma``, ``sga_lambda``, ...)."""
_STYLE_KEYS = (
    "sizes",
    "content",
    "style",
    "image_seed",
    "content_weight",
    "style_weight",
    "tv_weight",
    "convention",
    "line_search",
)
"""The style table's keys besides the corrections' parameters (``mu``, ``delta``, ...)."""


def _kind_keys(kind: str) -> tuple[str, ...]:
    """The keys a ``[gan]`` or ``[style]`` table may hold."""
    if kind == "gan":
        return _COMMON_KEYS + _GAN_KEYS + tuple(OPTIONS)
    return _COMMON_KEYS + _STYLE_KEYS + tuple(_parameter_takers())


def _fail(key: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"{key} {rule}, got {value!r}")


def _known(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise SpecError(f"{name} is not a known key; known keys here: {', '.join(allowed)}")


def _integer(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise _fail(key, f"must be {kind}", value)
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(key, "must be a positive number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        raise _fail(key, "must be a positive number within the float range", value) from None
    if not (math.isfinite(number) and number > 0):
        raise _fail(key, "must be a positive number", value)
    return number


def _list(value: Any, key: str, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _fail(key, f"must be a non-empty list of {what}", value)
    return value


def _unique(values: Sequence[Any], key: str) -> None:
    twice = sorted(repr(v) for v, count in Counter(values).items() if count > 1)
    if twice:
        raise SpecError(f"{key} must name each value once, got {twice[0]} twice")


def _choices(value: Any, key: str, allowed: Sequence[str]) -> list[str]:
    names = _list(value, key, "names")
    for name in names:
        if name not in allowed:
            raise SpecError(f"{key} must be among {', '.join(allowed)}, got {name!r}")
    _unique(names, key)
    return names


def _choice(value: Any, key: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise SpecError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _seeds(value: Any, key: str) -> tuple[int, ...]:
    seeds = [_integer(s, key, 0) for s in _list(value, key, "non-negative integers")]
    _unique(seeds, key)
    return tuple(seeds)


@dataclass(frozen=True)
class Section:
    """One validated ``[gan]`` or ``[style]`` table.

    Attributes
    ----------
    kind : {"gan", "style"}
    methods : tuple of str
    settings : tuple of dict
        The options that vary by setting (GAN: ``data``, ``hidden``; style: ``size``).
    lr_grids : dict of str to tuple
        Step sizes per method; ``(None,)`` for a method without a grid (its default).
    fixed : dict
        Options shared by every run of the table.
    method_options : dict of str to dict
        Options of one method's runs (style: ``mu``, ``delta``; GAN: the game methods'
        ``schedule``, ``gamma``, ``sga_lambda``).
    seeds, tune_seeds, confirm_seeds : tuple of int
        Repeats (grid mode), or the tuning and confirmation seeds (tune-confirm mode).
    criterion : tuple of str
        Tuning metrics in order of precedence (empty: the default per setting).
    """

    kind: str
    methods: tuple[str, ...]
    settings: tuple[dict[str, Any], ...]
    lr_grids: dict[str, tuple[float | None, ...]]
    fixed: dict[str, Any]
    seeds: tuple[int, ...] = ()
    tune_seeds: tuple[int, ...] = ()
    confirm_seeds: tuple[int, ...] = ()
    criterion: tuple[str, ...] = ()
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def runs(self, seeds: Sequence[int], methods_lr: Mapping[Any, Sequence[Any]] | None = None):
        """Every run for ``seeds``: method x setting x step size (or the given ones) x seed.

        ``methods_lr`` maps ``(setting label, method)`` to the step sizes to run; by default
        every method's whole grid.
        """
        seed_name = "seed" if self.kind == "gan" else "feature_seed"
        for method in self.methods:
            for setting in self.settings:
                base = RunSpec.build(
                    self.kind, {**self.fixed, **setting, "method": method, seed_name: 0}
                )
                grid = self.lr_grids[method]
                if methods_lr is not None:
                    grid = methods_lr.get((base.setting, method), ())
                for lr in grid:
                    for seed in seeds:
                        options = {**self.fixed, **setting, "method": method, seed_name: seed}
                        options |= self.method_options.get(method, {})
                        if lr is not None or self.kind == "gan":
                            options["lr"] = DEFAULT_LR[method] if lr is None else lr
                        yield RunSpec.build(self.kind, options)

    def criterion_for(self, run: RunSpec) -> tuple[str, ...]:
        """The tuning metrics of a run's setting: the spec's, or the default."""
        if self.criterion:
            return self.criterion
        if self.kind == "gan" and run.config["data"] == "dirac":
            return _DEFAULT_CRITERIA["dirac"]
        return _DEFAULT_CRITERIA[self.kind]


def _lr_grids(table: Any, kind: str, methods: Sequence[str]) -> dict[str, tuple]:
    key = f"{kind}.lr"
    if not isinstance(table, dict):
        raise _fail(key, "must be a table of method = [step sizes]", table)
    _known(table, methods, key)
    grids: dict[str, tuple] = {}
    for method in methods:
        if method not in table:
            grids[method] = (None,)
            continue
        where = f"{key}.{method}"
        if kind == "style" and method == "lbfgs":
            raise SpecError(f"{where}: lbfgs takes no step size (remove its grid)")
        values = [_number(v, where) for v in _list(table[method], where, "positive numbers")]
        _unique(values, where)
        grids[method] = tuple(values)
    return grids


def _gan_settings(table: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    data = _choices(table.get("data", ["ring"]), "gan.data", DATASETS)
    hidden_lists = _list(table.get("hidden", [[16]]), "gan.hidden", "lists of hidden widths")
    hidden = []
    for widths in hidden_lists:
        if not isinstance(widths, list) or not widths:
            raise _fail(
                "gan.hidden", "must be a list of lists of widths, e.g. [[16], [8, 8]]", widths
            )
        hidden.append(tuple(_integer(w, "gan.hidden", 1) for w in widths))
    _unique(hidden, "gan.hidden")
    settings = []
    for name in data:
        widths_of_data = [hidden[0]] if name == "dirac" else hidden  # DiracGAN has no MLPs
        settings += [{"data": name, "hidden": h} for h in widths_of_data]
    return tuple(settings)


def _gan_fixed(table: Mapping[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {"steps": _integer(table.get("steps", 200), "gan.steps", 1)}
    for name, default in (("batch", 64), ("n_eval", 2500)):
        fixed[name] = _integer(table.get(name, default), f"gan.{name}", 1)
    fixed["spectrum_every"] = _integer(table.get("spectrum_every", 0), "gan.spectrum_every", 0)
    fixed["loss"] = _choice(table.get("loss", "bce"), "gan.loss", tuple(LOSSES))
    fixed["schedule"] = _choice(table.get("schedule", "alternating"), "gan.schedule", SCHEDULES)
    for name in _carried_options():
        fixed[name] = _number(table.get(name, OPTIONS[name].default), f"gan.{name}")
    return fixed


def _carried_options() -> tuple[str, ...]:
    """Method options every run's config carries (a field default that is a number: ``mu``);
    the others (``gamma``, ``sga_lambda``) go to the runs of the methods that read them."""
    return tuple(name for name in OPTIONS if _FIELD_DEFAULTS[name] is not None)


def _gan_method_options(table: Mapping[str, Any], methods: Sequence[str]) -> dict:
    """The game methods' options: ``schedule`` ``"simultaneous"`` when the spec sets none (the
    only one they are defined for), and the options only their methods read (``gamma`` of
    ``conopt``, ``sga_lambda`` of ``sga``)."""
    options: dict[str, dict[str, Any]] = {m: {} for m in methods}
    if "schedule" not in table:
        for method in methods:
            if method in GAME_METHODS:
                options[method]["schedule"] = "simultaneous"
    for name in (n for n in OPTIONS if n not in _carried_options()):
        if name not in table:
            continue
        value = _number(table[name], f"gan.{name}")
        takers = [m for m in methods if name in METHOD_OPTIONS.get(m, ())]
        if not takers:
            raise SpecError(
                f"gan.{name} applies only to method {' or '.join(OPTION_TAKERS[name])}, which "
                f"gan.methods does not list (remove gan.{name})"
            )
        for method in takers:
            options[method][name] = value
    return {m: o for m, o in options.items() if o}


def _style_settings(table: Mapping[str, Any], methods: Sequence[str]) -> tuple[dict, ...]:
    sizes = [
        _integer(s, "style.sizes", 1)
        for s in _list(table.get("sizes", [16]), "style.sizes", "positive integers")
    ]
    _unique(sizes, "style.sizes")
    dense = [m for m in methods if m not in ("lbfgs", "adam", "hsc_cg")]
    for size in sizes:
        if dense and 3 * size * size > MAX_DENSE_UNKNOWNS:
            raise SpecError(
                f"style.sizes: {dense[0]} forms a dense pixel Hessian, so 3 size^2 must be at "
                f"most {MAX_DENSE_UNKNOWNS} (16 x 16), got size {size}"
            )
    return tuple({"size": s} for s in sizes)


def _style_fixed(table: Mapping[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {"steps": _integer(table.get("steps", 10), "style.steps", 1)}
    images = tuple(BUNDLED_IMAGES)
    fixed["content"] = _choice(table.get("content", "shapes"), "style.content", images)
    fixed["style"] = _choice(table.get("style", "checkerboard"), "style.style", images)
    fixed["seed"] = _integer(table.get("image_seed", 0), "style.image_seed", 0)
    weights = (("content_weight", 1.0), ("style_weight", 1e5), ("tv_weight", 1.0))
    fixed["weights"] = tuple(_number(table.get(n, d), f"style.{n}") for n, d in weights)
    fixed["convention"] = _choice(
        table.get("convention", "gatys"), "style.convention", tuple(CONVENTIONS)
    )
    line_search = table.get("line_search", False)
    if not isinstance(line_search, bool):
        raise _fail("style.line_search", "must be true or false", line_search)
    fixed["line_search"] = line_search
    return fixed


def _style_method_options(table: Mapping[str, Any], methods: Sequence[str]) -> dict:
    """The corrections' parameters (``mu``, ``delta``, ...): one number for every method, or a
    table ``method = number``."""
    options: dict[str, dict[str, float]] = {m: {} for m in methods}
    for name in _parameter_takers():
        value = table.get(name)
        if isinstance(value, dict):
            _known(value, methods, f"style.{name}")
            for method, number in value.items():
                options[method][name] = _number(number, f"style.{name}.{method}")
        elif value is not None:
            for method in methods:
                options[method][name] = _number(value, f"style.{name}")
    return options


def _criterion(value: Any, kind: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    return tuple(_choices(names, f"{kind}.criterion", tuple(METRIC_GOALS[kind])))


def _section_seeds(table: Mapping[str, Any], kind: str, mode: str) -> dict[str, Any]:
    if mode == "grid":
        for key in ("tune_seeds", "confirm_seeds", "criterion"):
            if key in table:
                raise SpecError(
                    f"{kind}.{key} is for mode = 'tune-confirm'; grid mode takes {kind}.seeds"
                )
        return {"seeds": _seeds(table.get("seeds", [0]), f"{kind}.seeds")}
    if "seeds" in table:
        raise SpecError(
            f"{kind}.seeds is for grid mode; tune-confirm takes {kind}.tune_seeds "
            f"and {kind}.confirm_seeds"
        )
    for key in ("tune_seeds", "confirm_seeds"):
        if key not in table:
            raise SpecError(f"{kind}.{key} is required in mode = 'tune-confirm'")
    tune = _seeds(table["tune_seeds"], f"{kind}.tune_seeds")
    confirm = _seeds(table["confirm_seeds"], f"{kind}.confirm_seeds")
    if len(confirm) < MIN_CONFIRM_SEEDS:
        raise SpecError(
            f"{kind}.confirm_seeds must hold at least {MIN_CONFIRM_SEEDS} seeds, got {len(confirm)}"
        )
    shared = sorted(set(tune) & set(confirm))
    if shared:
        raise SpecError(
            f"{kind}.confirm_seeds must be fresh (none among {kind}.tune_seeds), "
            f"got {shared} in both"
        )
    criterion = _criterion(table["criterion"], kind) if "criterion" in table else ()
    return {"tune_seeds": tune, "confirm_seeds": confirm, "criterion": criterion}


def _section(kind: str, table: Any, mode: str) -> Section:
    if not isinstance(table, dict):
        raise _fail(kind, "must be a table", table)
    _known(table, _kind_keys(kind), kind)
    allowed = METHODS + tuple(METHOD_ALIASES) if kind == "gan" else IMAGE_METHODS
    methods = _choices(table.get("methods", ["hsc"]), f"{kind}.methods", allowed)
    methods = [METHOD_ALIASES.get(m, m) for m in methods] if kind == "gan" else methods
    _unique(methods, f"{kind}.methods")
    if kind == "gan":
        settings, fixed = _gan_settings(table), _gan_fixed(table)
    else:
        settings, fixed = _style_settings(table, methods), _style_fixed(table)
    if kind == "style":
        per_method = _style_method_options(table, methods)
    else:
        per_method = _gan_method_options(table, methods)
    section = Section(
        kind,
        tuple(methods),
        settings,
        _lr_grids(table.get("lr", {}), kind, methods),
        fixed,
        **_section_seeds(table, kind, mode),
        method_options=per_method,
    )
    _check_criterion(section)
    return section


def _check_criterion(section: Section) -> None:
    if section.kind != "gan" or not section.criterion:
        return
    data = {s["data"] for s in section.settings}
    if "dirac" in data and set(section.criterion) & set(_MODE_METRICS):
        raise SpecError("gan.criterion: DiracGAN has no modes; use distance_to_equilibrium")
    if data - {"dirac"} and "distance_to_equilibrium" in section.criterion:
        raise SpecError("gan.criterion: distance_to_equilibrium exists only for data 'dirac'")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec.

    Attributes
    ----------
    mode : {"grid", "tune-confirm"}
    sections : tuple of Section
        The ``[gan]`` and ``[style]`` tables given.
    text : str
        The TOML text it was read from.
    """

    mode: str
    sections: tuple[Section, ...]
    text: str = field(default="", compare=False)

    def grid_runs(self) -> list[RunSpec]:
        """Grid mode: every run. Tune-confirm mode: the tuning runs."""
        seeds = "seeds" if self.mode == "grid" else "tune_seeds"
        return [run for s in self.sections for run in s.runs(getattr(s, seeds))]

    def section(self, kind: str) -> Section:
        """The ``[kind]`` table."""
        return next(s for s in self.sections if s.kind == kind)

    def planned_count(self) -> int:
        """Runs in grid mode; tuning plus confirmation runs in tune-confirm mode (counted)."""
        count = 0
        for s in self.sections:
            steps = sum(len(s.lr_grids[m]) for m in s.methods)
            if self.mode == "grid":
                count += len(s.settings) * steps * len(s.seeds)
            else:
                count += len(s.settings) * (
                    steps * len(s.tune_seeds) + len(s.methods) * len(s.confirm_seeds)
                )
        return count


def parse_spec(text: str) -> SweepSpec:
    """Validate a TOML spec; :class:`SpecError` names the key and the rule it breaks.

    Parameters
    ----------
    text : str
        The TOML text.

    Returns
    -------
    SweepSpec

    Examples
    --------
    >>> parse_spec('mode = "random"')
    Traceback (most recent call last):
    ...
    hsc_ref.lab.sweep._spec.SpecError: mode must be one of grid, tune-confirm, got 'random'
    """
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ImportError(
            "reading a sweep spec on Python 3.10 needs tomli: pip install 'hsc-ref[sweep]'"
        )
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"the spec is not valid TOML: {exc}") from exc
    _known(table, ("mode", *KINDS), "")
    mode = _choice(table.get("mode", "grid"), "mode", MODES)
    sections = tuple(_section(kind, table[kind], mode) for kind in KINDS if kind in table)
    if not sections:
        raise SpecError("the spec must have a [gan] or a [style] table (or both)")
    spec = SweepSpec(mode, sections, text)
    _check_runs(spec)
    return spec


def _check_runs(spec: SweepSpec) -> None:
    """The run count against :data:`MAX_RUNS`, then every GAN config as TrainConfig checks it."""
    count = spec.planned_count()
    if count > MAX_RUNS:
        raise SpecError(f"the spec plans {count} runs; at most {MAX_RUNS} are allowed")
    for run in _first_of_each_setting(spec):
        try:
            _check_run(run)
        except (ValueError, TypeError) as exc:
            raise SpecError(f"{run.kind}: {exc}") from exc


def _check_run(run: RunSpec) -> None:
    """The library's own checks of one run's options (they raise with the rule)."""
    if run.kind == "gan":
        TrainConfig(**run.config)
        return
    params = {k: v for k, v in run.config.items() if k in _parameter_takers()}
    if params and run.method in ("lbfgs", "adam", "hsc_cg"):
        raise ValueError(f"{run.method} takes no correction parameters, got {sorted(params)}")
    if run.method not in ("lbfgs", "adam", "hsc_cg"):
        get_correction(run.method, **params)


def _first_of_each_setting(spec: SweepSpec) -> Iterator[RunSpec]:
    seen = set()
    for run in spec.grid_runs():
        if (run.kind, run.setting, run.method) not in seen:
            seen.add((run.kind, run.setting, run.method))
            yield run


def read_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file (:func:`parse_spec`).

    Parameters
    ----------
    path : path
        A ``.toml`` file.

    Returns
    -------
    SweepSpec

    Examples
    --------
    >>> read_spec("no-such-spec.toml")
    Traceback (most recent call last):
    ...
    FileNotFoundError: sweep spec no-such-spec.toml does not exist
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep spec {path} does not exist")
    return parse_spec(path.read_text(encoding="utf-8"))
