"""Checkpoints of a training loop as plain arrays and JSON: never pickles.

A checkpoint is a :class:`~hsc_ref.loop.LoopProgress` (steps completed, the loop's state,
the history so far), the value the science functions hand their ``callback`` after every step
and continue from with ``start=``. :class:`Checkpoints` is such a callback: it keeps the latest
progress, writes it periodically and at Ctrl-C. The progress is written as two files of an
output set: ``checkpoint.npz`` (every array, reproducible bytes, no object arrays) and
``checkpoint.json`` (the state's structure with its scalars, and the run's facts such as its
configuration). The state is a nest of tuples, NamedTuples (any NamedTuple class defined in
``hsc_ref``, stored by its module and name: a new rule state needs no change here), dicts with
string keys (a random generator's state), arrays and scalars, and SciPy's quasi-Newton
strategies; floats are stored exactly
(``float.hex``). A :class:`~hsc_ref.spectral.Spectrum` kept in a Newton-type rule's state is
the last step's diagnostic, recomputed by the next step: it is not saved (it reads back as
``None``), which leaves every later result unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize

from hsc_ref import _io, _limits
from hsc_ref.lab import _outputs
from hsc_ref.loop import LoopProgress
from hsc_ref.spectral import Spectrum

__all__: list[str] = []

FILES = ("checkpoint.npz", "checkpoint.json")
"""The files of a checkpoint inside an output set."""

FORMAT = "hsc-ref checkpoint"
"""``checkpoint.json``'s ``format`` entry."""

_STRATEGIES: dict[str, type] = {"SR1": scipy.optimize.SR1, "BFGS": scipy.optimize.BFGS}

_PACKAGE = "hsc_ref"
"""NamedTuple state classes are read back only from this package's modules."""


def _is_namedtuple_class(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def _state_class_name(cls: type) -> str | None:
    """``module:qualname`` of a NamedTuple class of the package, or None for any other."""
    module, qualname = cls.__module__, cls.__qualname__
    if not (module == _PACKAGE or module.startswith(_PACKAGE + ".")) or "<" in qualname:
        return None
    return f"{module}:{qualname}" if _state_class(f"{module}:{qualname}") is cls else None


def _state_class(name: str) -> type | None:
    """The NamedTuple class ``module:qualname`` names inside the package, or None."""
    module, _, qualname = name.partition(":")
    if not (module == _PACKAGE or module.startswith(_PACKAGE + ".")) or not qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if _is_namedtuple_class(found) else None


# --------------------------------------------------------------------------- encoding


def encode(value: Any, arrays: dict[str, np.ndarray], key: str = "state") -> Any:
    """The JSON tree of ``value``; its arrays go into ``arrays`` under paths from ``key``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.rules import AdamState
    >>> arrays = {}
    >>> tree = encode((AdamState(2, np.zeros(2), np.ones(2)), 0.1), arrays)
    >>> tree["tuple"][0]["namedtuple"], tree["tuple"][1], sorted(arrays)
    ('hsc_ref.rules:AdamState', {'float': '0x1.999999999999ap-4'}, ['state/0/mu', 'state/0/nu'])
    >>> decode(tree, arrays)[0].count
    2
    """
    for applies, encoder in _ENCODERS:
        if applies(value):
            return encoder(value, arrays, key)
    raise TypeError(f"cannot checkpoint {key}: a {type(value).__name__} is not plain data")


def _scalar(value: Any, arrays: dict, key: str) -> dict[str, Any]:
    if type(value) is float:
        return {"float": value.hex()}
    kind = {type(None): "none", bool: "bool", int: "int", str: "str"}[type(value)]
    return {kind: value}


def _numpy_scalar(value: np.generic, arrays: dict, key: str) -> dict[str, Any]:
    item = value.item()
    return {"numpy": value.dtype.str, "value": item.hex() if isinstance(item, float) else item}


def _array(value: np.ndarray, arrays: dict, key: str) -> dict[str, Any]:
    if value.dtype.hasobject:
        raise TypeError(f"cannot checkpoint {key}: object arrays would be pickled")
    arrays[key] = value
    return {"array": key}


def _state_type(value: tuple, arrays: dict, key: str) -> dict[str, Any]:
    name = _state_class_name(type(value))
    if name is None:
        raise TypeError(
            f"cannot checkpoint {key}: {type(value).__qualname__} is not a NamedTuple class "
            f"defined at the top of a module of {_PACKAGE}"
        )
    fields = {f: encode(getattr(value, f), arrays, f"{key}/{f}") for f in value._fields}
    return {"namedtuple": name, "fields": fields}


def _sequence(value: tuple | list, arrays: dict, key: str) -> dict[str, Any]:
    items = [encode(v, arrays, f"{key}/{i}") for i, v in enumerate(value)]
    return {"tuple" if isinstance(value, tuple) else "list": items}


def _mapping(value: dict, arrays: dict, key: str) -> dict[str, Any]:
    return {"dict": {k: encode(v, arrays, f"{key}/{k}") for k, v in value.items()}}


def _strategy(value: Any, arrays: dict, key: str) -> dict[str, Any]:
    name = type(value).__name__
    if _STRATEGIES.get(name) is not type(value):
        raise TypeError(f"cannot checkpoint {key}: strategy {name} is not SR1 or BFGS")
    attributes = {k: encode(v, arrays, f"{key}/{k}") for k, v in vars(value).items()}
    return {"strategy": name, "attributes": attributes}


_ENCODERS = (
    (lambda v: v is None or type(v) in (bool, int, float, str), _scalar),
    (lambda v: isinstance(v, np.generic), _numpy_scalar),
    (lambda v: isinstance(v, np.ndarray), _array),
    (lambda v: isinstance(v, Spectrum), lambda v, a, k: {"dropped": "Spectrum"}),
    (lambda v: isinstance(v, tuple) and hasattr(v, "_fields"), _state_type),
    (lambda v: isinstance(v, (tuple, list)), _sequence),
    (lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), _mapping),
    (lambda v: isinstance(v, scipy.optimize.HessianUpdateStrategy), _strategy),
)


def decode(tree: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The value :func:`encode` wrote (a Spectrum reads back as ``None``)."""
    kinds = [kind for kind in _DECODERS if isinstance(tree, dict) and kind in tree]
    if len(kinds) != 1:
        raise ValueError(f"checkpoint entry {tree!r} is not an encoded value")
    return _DECODERS[kinds[0]](tree, arrays)


def _decode_numpy(tree: dict, arrays: Mapping) -> np.generic:
    item = tree["value"]
    return np.dtype(tree["numpy"]).type(float.fromhex(item) if isinstance(item, str) else item)


def _decode_state_type(tree: dict, arrays: Mapping) -> tuple:
    cls = _state_class(str(tree["namedtuple"]))
    if cls is None:
        raise ValueError(f"checkpoint holds an unknown state type {tree['namedtuple']!r}")
    return cls(**{f: decode(v, arrays) for f, v in tree["fields"].items()})


def _decode_strategy(tree: dict, arrays: Mapping) -> Any:
    if tree["strategy"] not in _STRATEGIES:
        raise ValueError(f"checkpoint holds an unknown strategy {tree['strategy']!r}")
    strategy = _STRATEGIES[tree["strategy"]]()
    for name, value in tree["attributes"].items():
        setattr(strategy, name, decode(value, arrays))
    return strategy


_DECODERS = {
    "none": lambda t, a: None,
    "bool": lambda t, a: bool(t["bool"]),
    "int": lambda t, a: int(t["int"]),
    "str": lambda t, a: str(t["str"]),
    "float": lambda t, a: float.fromhex(t["float"]),
    "numpy": _decode_numpy,
    "array": lambda t, a: np.array(a[t["array"]]),
    "dropped": lambda t, a: None,
    "namedtuple": _decode_state_type,
    "tuple": lambda t, a: tuple(decode(v, a) for v in t["tuple"]),
    "list": lambda t, a: [decode(v, a) for v in t["list"]],
    "dict": lambda t, a: {k: decode(v, a) for k, v in t["dict"].items()},
    "strategy": _decode_strategy,
}


# --------------------------------------------------------------------------- files


Chunk = tuple[str, int, int]
"""A history chunk: its file name and the steps ``[start, stop)`` whose rows it holds."""


def chunk_name(start: int) -> str:
    """The file name of the history chunk that starts at step ``start``.

    Examples
    --------
    >>> chunk_name(150)
    'checkpoint-history-000000150.npz'
    """
    return f"checkpoint-history-{start:09d}.npz"


def write(
    folder: str | os.PathLike,
    progress: LoopProgress,
    facts: Mapping[str, Any],
    *,
    previous: tuple[Path, Sequence[Chunk]] | None = None,
) -> list[Chunk]:
    """Write a checkpoint of ``progress`` into ``folder`` (a staging folder of an output set).

    :data:`FILES` hold the state and the facts; the history goes into chunks
    (:func:`chunk_name`), each holding the rows of the steps since the one before, so that a
    checkpoint writes only what changed: the chunks of ``previous`` (the folder of the set
    in place and the chunks it holds, as this function returned them) are hard-linked, not
    written again (written again where links are impossible).

    Parameters
    ----------
    folder : path
        Where to write.
    progress : LoopProgress
        The loop's progress.
    facts : mapping
        JSON-ready facts of the run (its configuration), read back by :func:`read`.
    previous : (path, list of Chunk), optional
        The last checkpoint this run committed.

    Returns
    -------
    list of Chunk
        The chunks of this checkpoint (pass them as ``previous`` to the next one).
    """
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    tree = encode(progress.state, arrays)
    done = int(progress.steps_completed)
    lengths = {np.shape(column)[0] for column in progress.history.values()}
    document = {
        "format": FORMAT,
        "steps_completed": done,
        "history": sorted(progress.history),
        "history_length": None,
        "state": tree,
        "facts": dict(facts),
    }
    chunks: list[Chunk] = []
    if len(lengths) == 1 and (length := lengths.pop()) >= done:
        document["history_length"] = length
        chunks = _linked_chunks(folder, previous, done)
        start = chunks[-1][2] if chunks else 0
        if done > start:  # the rows since the last checkpoint: all that is written
            rows = {f"history/{n}": np.asarray(c)[start:done] for n, c in progress.history.items()}
            _io.atomic_save_npz(folder / chunk_name(start), rows)
            chunks.append((chunk_name(start), start, done))
        document["history_chunks"] = [list(chunk) for chunk in chunks]
    else:  # columns of several lengths: kept whole in the state's archive
        for name, column in progress.history.items():
            arrays[f"history/{name}"] = np.asarray(column)
    _io.atomic_save_npz(folder / FILES[0], arrays)
    _io.atomic_write_json(folder / FILES[1], document)
    return chunks


def _linked_chunks(folder: Path, previous: tuple[Path, Sequence[Chunk]] | None, done: int):
    """Hard-link the previous checkpoint's chunks into ``folder``; [] where that fails."""
    if previous is None:
        return []
    source, old = previous
    kept: list[Chunk] = []
    for name, start, stop in old:
        if stop > done:
            break
        try:
            os.link(source / name, folder / name)
        except OSError:  # no hard links here (or the file is gone): write the history again
            for linked, _, _ in kept:
                (folder / linked).unlink(missing_ok=True)
            return []
        kept.append((name, start, stop))
    return kept


def read(folder: str | os.PathLike) -> tuple[LoopProgress, dict[str, Any]]:
    """The progress and the facts of a checkpoint written by :func:`write`.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> progress = LoopProgress(1, (np.ones(2), {"seed": 3}), {"loss": np.array([0.5, np.nan])})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = write(d, progress, {"steps": 2})
    ...     back, facts = read(d)
    >>> back.steps_completed, back.state[1], back.history["loss"], facts
    (1, {'seed': 3}, array([0.5, nan]), {'steps': 2})
    """
    folder = Path(folder)
    path = folder / FILES[1]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no checkpoint ({FILES[1]} is missing)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is unreadable: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not an hsc-ref checkpoint")
    try:
        return _read_checked(folder, document)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a damaged structure
        raise ValueError(
            f"{path} is corrupt: its structure does not hold ({type(exc).__name__}: {exc})"
        ) from None


def _array_keys(tree: Any) -> set[str]:
    """The ``.npz`` entries a state tree names."""
    if isinstance(tree, dict):
        keys = {tree["array"]} if isinstance(tree.get("array"), str) else set()
        return keys.union(*(_array_keys(v) for v in tree.values()))
    if isinstance(tree, list):
        return set().union(*(_array_keys(v) for v in tree))
    return set()


def _read_checked(folder: Path, document: dict[str, Any]) -> tuple[LoopProgress, dict]:
    """Read a checkpoint whose JSON parsed: its entries, their shapes, then its history.

    The ``.npz`` must hold exactly the entries the JSON names, and the history columns the
    shapes it implies (read from the entries' headers, before anything is unpacked); the
    history must end where ``steps_completed`` says (a step recorded at the last completed
    step, none after it).
    """
    npz, where = folder / FILES[0], folder / FILES[1]
    done, names = document["steps_completed"], list(document["history"])
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise ValueError(f"{where} is corrupt: steps_completed = {done!r}")
    if "history_chunks" in document:
        return _read_chunked(folder, document, done, names)
    columns = {f"history/{name}" for name in names}
    expected = columns | _array_keys(document["state"])
    present = set(_io.npz_names(npz, "checkpoint file"))
    if present != expected:
        raise ValueError(
            f"{npz} does not match {where}: missing entries {sorted(expected - present)}, "
            f"unexpected {sorted(present - expected)}"
        )
    length = document.get("history_length")
    shapes = _io.npz_shapes(npz, "checkpoint file", sorted(columns))
    rows = done if length is not None else None
    wrong = sorted(k for k, shape in shapes.items() if len(shape) != 1 or shape[0] != rows)
    if rows is None:  # columns kept whole: of one length, at least steps_completed
        wrong = sorted(k for k, shape in shapes.items() if len(shape) != 1 or shape[0] < done)
    if wrong or (length is not None and (not isinstance(length, int) or length < done)):
        raise ValueError(
            f"{npz} does not match steps_completed = {done} in {where}: history columns "
            f"{wrong or names} have other shapes ({[shapes[k] for k in wrong[:3]]})"
        )
    arrays = _io.load_npz(npz, "checkpoint file", keys=sorted(expected))
    history = {name: arrays[f"history/{name}"] for name in names}
    _check_history_ends(history, done, where)
    if length is not None:
        history = {name: _padded(column, length) for name, column in history.items()}
    state = decode(document["state"], arrays)
    return LoopProgress(done, state, history), document["facts"]


def _read_chunked(
    folder: Path, document: dict[str, Any], done: int, names: list[str]
) -> tuple[LoopProgress, dict]:
    """A checkpoint whose history is in chunks: each checked from its headers, then read."""
    npz, where = folder / FILES[0], folder / FILES[1]
    length = document["history_length"]
    chunks = [tuple(chunk) for chunk in document["history_chunks"]]
    reached = 0
    for name, start, stop in chunks:
        if start != reached or not stop > start or name != chunk_name(start):
            raise ValueError(f"{where} is corrupt: its history chunks {chunks} do not follow")
        reached = stop
    if reached != done or not isinstance(length, int) or length < done:
        raise ValueError(
            f"{where} is corrupt: steps_completed = {done} but its history chunks reach "
            f"step {reached} (of {length})"
        )
    on_disk = {p.name for p in folder.iterdir() if _outputs.CHUNK_PATTERN.fullmatch(p.name)}
    state_keys = _array_keys(document["state"])
    present = set(_io.npz_names(npz, "checkpoint file"))
    if on_disk != {c[0] for c in chunks} or present != state_keys:
        raise ValueError(
            f"{folder} does not match {where}: history chunks {sorted(on_disk)} for "
            f"{[c[0] for c in chunks]}, state entries {sorted(present ^ state_keys)} differ"
        )
    _limits.require_memory(
        8 * length * len(names), f"{where} (history of {length} steps)", hint="a smaller run"
    )
    history = {name: np.full(length, np.nan) for name in names}
    allowed = {f"history/{name}" for name in names}
    for name, start, stop in chunks:
        what = f"checkpoint history chunk {name}"
        shapes = _io.npz_shapes(folder / name, what)
        wrong = sorted(
            k for k, shape in shapes.items() if k not in allowed or shape != (stop - start,)
        )
        if wrong:
            raise ValueError(
                f"{folder / name} does not match {where}: entries {wrong} are not history "
                f"columns of steps {start} to {stop}"
            )
        for key, column in _io.load_npz(folder / name, what).items():
            history[key.removeprefix("history/")][start:stop] = column
    _check_history_ends(history, done, where)
    state = decode(document["state"], _io.load_npz(npz, "checkpoint file", keys=sorted(state_keys)))
    return LoopProgress(done, state, history), document["facts"]


def _padded(column: np.ndarray, length: int) -> np.ndarray:
    out = np.full(length, np.nan)
    out[: column.shape[0]] = column
    return out


def _check_history_ends(history: Mapping[str, np.ndarray], done: int, where: Path) -> None:
    """Every completed step records a value (the loops' wall time), and no later one does."""
    if not history:
        return
    recorded = np.zeros(max(c.shape[0] for c in history.values()), dtype=bool)
    for column in history.values():
        recorded[: column.shape[0]] |= ~np.isnan(column)
    last = int(np.flatnonzero(recorded)[-1]) + 1 if recorded.any() else 0
    if last != done:
        raise ValueError(
            f"{where} is corrupt: steps_completed = {done} but its history records steps up "
            f"to {last}"
        )


# --------------------------------------------------------------------------- in an output set


class Checkpoints:
    """A run's checkpoints in its output set: the callback of a training loop.

    Each checkpoint replaces the set as a whole (:class:`hsc_ref.lab._outputs.OutputSet`) with
    :data:`FILES` and a manifest whose status is ``running`` (periodic), ``interrupted``
    (Ctrl-C) or ``failed``, and whose ``steps_completed`` says how far the run got. The
    An instance is the ``callback`` of a science function (a
    :data:`~hsc_ref.loop.ProgressFn`): it keeps every step's progress and writes it every
    ``every`` steps before the last; the progress after the last step (training done, outputs
    not yet written) is only kept: an interrupt while writing the outputs saves it
    (:meth:`interrupted`).

    Parameters
    ----------
    outputs : OutputSet
        The run's open output set.
    command : str
        The command (``gan``, ``style``).
    steps : int
        The run's number of steps.
    facts : mapping
        What defines the run (its configuration), compared by :func:`resume_point`.
    every : int, default 0
        Write a checkpoint every this many completed steps (0: only at Ctrl-C).
    """

    def __init__(
        self,
        outputs: _outputs.OutputSet,
        command: str,
        steps: int,
        facts: Mapping[str, Any],
        every: int = 0,
    ) -> None:
        self.outputs, self.command, self.steps, self.every = outputs, command, steps, every
        self.facts = {"command": command, "config": dict(facts)}
        self.latest: LoopProgress | None = None
        self._chunks: list[Chunk] = []  # of the last checkpoint this object committed

    def __call__(self, progress: LoopProgress) -> None:
        self.latest = progress
        done = progress.steps_completed
        if self.every and done < self.steps and done % self.every == 0:
            self.save("running")

    def save(self, status: str, reason: str | None = None) -> None:
        """Commit the latest progress as a checkpoint set of ``status`` (and its ``reason``).

        Only the history since the last checkpoint this object committed is written: the
        earlier chunks are hard-linked from the set in place.
        """
        previous = (self.outputs.path, self._chunks) if self._chunks else None
        chunks = write(self.outputs.staging(), self.latest, self.facts, previous=previous)
        info = {"steps": self.steps, "steps_completed": self.latest.steps_completed}
        self.outputs.commit(status, info | ({"reason": reason} if reason else {}))
        self._chunks = chunks

    def interrupted(self) -> KeyboardInterrupt:
        """Save the latest progress unless saved; the one line the command line prints."""
        out = self.outputs.path
        if self.outputs.status == "complete":
            return KeyboardInterrupt(f"interrupted after writing the complete outputs to {out}")
        if self.latest is None:
            return KeyboardInterrupt("interrupted before the first step; nothing was written")
        if self.outputs.status != "interrupted":
            self.save("interrupted")
        return KeyboardInterrupt(
            f"interrupted after step {self.latest.steps_completed} of {self.steps}; checkpoint "
            f"written to {out}; run the same command with --resume to continue"
        )

    def failed(self, exc: BaseException | None = None) -> None:
        """Keep the latest progress as a ``failed`` checkpoint: the step the run reached and
        ``exc`` in one line (best effort: the error itself matters more).

        Nothing is written before the first step, or over a complete set: this run's (a
        failure after its outputs were committed), or the one ``--force`` was to replace.
        """
        if self.latest is not None and not self._holds_complete_set():
            reason = None if exc is None else " ".join(f"{type(exc).__name__}: {exc}".split())
            with contextlib.suppress(Exception):
                self.save("failed", reason)

    def _holds_complete_set(self) -> bool:
        """Whether the output folder holds a complete set now (read from its manifest)."""
        return self.outputs.status == "complete" or _complete_set_in(self.outputs.path)


def _complete_set_in(path: Path) -> bool:
    try:
        return _outputs.read_manifest(path).get("status") == "complete"
    except (OSError, ValueError):  # no set, or none readable (IncompleteSetError included)
        return False


def resume_point(outputs: _outputs.OutputSet, facts: Mapping[str, Any]) -> LoopProgress:
    """The checkpoint an unfinished run with the same ``facts`` left in the output folder.

    Raises ``ValueError`` when the folder holds no run, a complete run, another command's,
    or a run started with other settings (naming each that differs).
    """
    path, command = outputs.path, outputs.command
    if not path.is_dir() or not any(path.iterdir()):
        raise ValueError(f"--resume: {path} holds no run to continue; start it without --resume")
    manifest = _outputs.verify_set(path, command=command, complete=False)
    if manifest["status"] == "complete":
        raise ValueError(
            f"--resume: {path} holds a complete run, nothing to continue; pass --force instead "
            f"of --resume to run it again"
        )
    progress, saved = read(path)
    started, now = saved.get("config", {}), dict(facts)
    differ = sorted(k for k in set(started) | set(now) if started.get(k) != now.get(k))
    if differ:
        was = ", ".join(f"{k}={started.get(k)!r}" for k in differ)
        asked = ", ".join(f"{k}={now.get(k)!r}" for k in differ)
        raise ValueError(
            f"--resume continues the run in {path}, started with {was}, but this command asks "
            f"for {asked}: repeat the original options"
        )
    return progress
