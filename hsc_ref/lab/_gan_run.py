"""A GAN run written to a folder: metrics, samples, history, the game's matrices and plots.

Outputs in the folder: ``metrics.json`` (config and metrics), ``samples.npz`` (evaluation
samples, mode centres, final ``theta`` and ``phi``), ``history.npz`` (per-step arrays, see
:class:`~hsc_ref.gan.train.TrainResult`), ``matrices.npz`` (every exact matrix of the game
at the final point, :func:`final_matrices`) and the plots ``samples.png``, ``losses.png``
and ``spectrum.png``. The data files are always written; the plots need matplotlib (extra
``plot``) and are skipped without it, which :class:`GanRun` records. The folder is one
output set with ``manifest.json`` (``hsc_ref.lab._outputs``): it appears whole or not at all, an
existing set is replaced, as a whole, only when asked, and while training it holds the run's
latest checkpoint (``hsc_ref.lab._checkpoint``), which a resumed run continues.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _extras, _io, _validation
from hsc_ref.corrections import correct
from hsc_ref.gan._options import applicable
from hsc_ref.gan.data import sample
from hsc_ref.gan.game import game_matrices, init_game
from hsc_ref.gan.train import TrainConfig, TrainResult, check_memory, train
from hsc_ref.lab import _checkpoint, _outputs
from hsc_ref.loop import LoopProgress

__all__ = [
    "OUTPUT_FILES",
    "PLOT_FILES",
    "SET_FILES",
    "final_matrices",
    "WrittenOutputs",
    "write_outputs",
    "plot_run",
    "GanRun",
    "run_to_folder",
    "config_facts",
]

OUTPUT_FILES = ("metrics.json", "samples.npz", "history.npz", "matrices.npz")
"""Data files a GAN run always writes."""

PLOT_FILES = ("samples.png", "losses.png", "spectrum.png")
"""Plots a GAN run writes when asked and matplotlib is installed."""

SET_FILES = OUTPUT_FILES + PLOT_FILES + _checkpoint.FILES
"""Every file a GAN output set may hold besides ``manifest.json``: a complete run's outputs,
or an unfinished run's checkpoint."""


def final_matrices(result: TrainResult) -> dict[str, np.ndarray]:
    """Every exact matrix of the game at the run's final point, on a fresh seeded batch.

    The batch (``x_real``, ``z``, ``config.batch`` rows) comes from the fourth child of
    ``SeedSequence(seed)`` (training uses the first three), so it is reproducible.

    Parameters
    ----------
    result : TrainResult

    Returns
    -------
    dict of str to ndarray
        ``theta, phi, x_real, z``; ``hessian_g, hessian_d, cross_g, cross_d, jacobian``
        (:class:`~hsc_ref.gan.game.GameMatrices`); ``hc_g, hc_d`` (``H + pinv(H)`` per player,
        pinvh cutoff policy, recorded in ``cutoff_g, cutoff_d``); and the game Jacobian's
        eigenvalues as ``jacobian_eigenvalues_real`` and ``_imag`` (it is not symmetric).

    Examples
    --------
    >>> r = train(TrainConfig(data="dirac", method="hsc", steps=2))
    >>> m = final_matrices(r)
    >>> m["hessian_g"].shape == m["hc_g"].shape == (r.theta.size, r.theta.size)
    True
    """
    config = result.config
    game = config.game()
    rng = np.random.default_rng(np.random.SeedSequence(int(config.seed)).spawn(4)[3])
    x_real = sample(game.data, config.batch, rng)
    z = rng.standard_normal((config.batch, game.noise_dim))
    fg = init_game(game, np.random.default_rng(0))  # only its layout is used
    m = game_matrices(fg, result.theta, result.phi, x_real, z)
    arrays = {"theta": result.theta, "phi": result.phi, "x_real": x_real, "z": z}
    arrays.update(m._asdict())
    for p, H in (("g", m.hessian_g), ("d", m.hessian_d)):
        corrected = correct(H, "hsc")
        arrays[f"hc_{p}"] = corrected.matrix
        arrays[f"cutoff_{p}"] = np.float64(corrected.cutoff)
    eig = np.linalg.eigvals(m.jacobian)
    arrays["jacobian_eigenvalues_real"] = eig.real
    arrays["jacobian_eigenvalues_imag"] = eig.imag
    return arrays


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _metrics_report(result: TrainResult, matrices: dict[str, np.ndarray]) -> dict[str, Any]:
    """``metrics.json``: the config and the metrics, plus facts of the final game Jacobian."""
    config = config_facts(result.config)
    eig = matrices["jacobian_eigenvalues_real"] + 1j * matrices["jacobian_eigenvalues_imag"]
    metrics = {k: _jsonable(v) for k, v in result.metrics.items()}
    metrics.update(
        final_jacobian_max_real=float(eig.real.max()),
        final_jacobian_max_abs_imag=float(np.abs(eig.imag).max()),
        final_jacobian_complex_count=int(np.sum(np.abs(eig.imag) > 0)),
    )
    return {"config": config, "metrics": metrics}


class WrittenOutputs(NamedTuple):
    """Files written by :func:`write_outputs`.

    Attributes
    ----------
    paths : tuple of Path
        Every file written, data first.
    skipped : tuple of str
        Plot files asked for but not written because matplotlib is missing.
    """

    paths: tuple[Path, ...]
    skipped: tuple[str, ...]


def write_outputs(
    result: TrainResult, out: str | os.PathLike, *, plots: bool = True, overwrite: bool = False
) -> WrittenOutputs:
    """Write a run's data files (and, with matplotlib, the plots) as one output set.

    The files and ``manifest.json`` appear in ``out`` together or not at all
    (``hsc_ref.lab._outputs``); a previous set is replaced as a whole, so no plot of an earlier
    run survives beside new data.

    Parameters
    ----------
    result : TrainResult
    out : path
        Output folder (created if missing): new, empty, or a previous set to replace.
    plots : bool
        Also write the PNG plots; without matplotlib they are skipped and listed in
        ``skipped``.
    overwrite : bool
        Replace an existing set; otherwise it raises ``FileExistsError``.

    Returns
    -------
    WrittenOutputs

    Examples
    --------
    >>> import tempfile
    >>> r = train(TrainConfig(data="dirac", method="hsc", steps=2))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     written = write_outputs(r, d + "/run", plots=False)
    >>> [p.name for p in written.paths] == [*OUTPUT_FILES, "manifest.json"], written.skipped
    (True, ())
    """
    with _outputs.OutputSet(out, SET_FILES, command="gan", overwrite=overwrite) as outputs:
        return _commit_outputs(outputs, result, plots)


def _commit_outputs(
    outputs: _outputs.OutputSet, result: TrainResult, plots: bool
) -> WrittenOutputs:
    """Write the run's files into a fresh staging folder and commit it as a complete set."""
    stage = outputs.staging()
    names, skipped = _write_files(result, stage, plots)
    facts = {"steps": result.config.steps, "steps_completed": result.metrics["steps_completed"]}
    outputs.commit("complete", facts)
    paths = [outputs.path / name for name in (*names, _outputs.MANIFEST_NAME)]
    return WrittenOutputs(tuple(paths), skipped)


def _write_files(
    result: TrainResult, folder: Path, plots: bool
) -> tuple[list[str], tuple[str, ...]]:
    """The data files and, asked and possible, the plots, into ``folder``: names, skipped."""
    matrices = final_matrices(result)
    data = {
        "samples": result.samples,
        "centers": result.config.game().data.centers,
        "theta": result.theta,
        "phi": result.phi,
    }
    _io.atomic_write_json(folder / "metrics.json", _metrics_report(result, matrices))
    _io.atomic_save_npz(folder / "samples.npz", data)
    _io.atomic_save_npz(folder / "history.npz", result.history)
    _io.atomic_save_npz(folder / "matrices.npz", matrices)
    if not plots:
        return list(OUTPUT_FILES), ()
    if not _extras.installed("matplotlib"):
        return list(OUTPUT_FILES), PLOT_FILES
    return [*OUTPUT_FILES, *(p.name for p in plot_run(result, folder))], ()


def _plot_samples(result: TrainResult) -> Any:
    from hsc_ref._plotting import new_figure  # noqa: PLC0415  (optional extra)

    c = result.config
    fig, ax = new_figure(size=(5.0, 5.0))
    centers = c.game().data.centers
    if centers.shape[1] == 2:
        ax.scatter(result.samples[:, 0], result.samples[:, 1], s=2, alpha=0.4, label="generated")
        ax.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", c="red", label="modes")
        ax.set_aspect("equal")
    else:
        ax.hist(result.samples[:, 0], bins=50, label="generated")
        ax.axvline(0.0, c="red", label="data")
    modes = result.metrics.get("modes_captured", "-")
    ax.set_title(f"{c.method} on {c.data}: {modes} modes, seed {c.seed}")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def _plot_losses(result: TrainResult) -> Any:
    from hsc_ref._plotting import new_figure  # noqa: PLC0415  (optional extra)

    c, h = result.config, result.history
    fig, ax = new_figure(size=(6.0, 4.0))
    for key in ("loss_g", "loss_d"):
        ax.plot(np.arange(1, c.steps + 1), h[key], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{c.method} on {c.data}: losses")
    ax.legend()
    return fig


_NO_SPECTRUM = "no spectrum recorded:\nthis rule computes no Hessian\n(see spectrum_every)"


def _plot_spectrum(result: TrainResult) -> Any:
    from hsc_ref._plotting import new_figure  # noqa: PLC0415  (optional extra)

    h = result.history
    steps = np.arange(1, result.config.steps + 1)
    fig, axes = new_figure(1, 2, size=(10.0, 4.0))
    for ax, p, name in zip(axes, ("g", "d"), ("generator", "discriminator"), strict=True):
        seen = np.isfinite(h[f"eig_min_{p}"])
        ax.set_xlabel("step")
        ax.set_title(f"{name} Hessian spectrum")
        if not seen.any():  # Adam, SGD, SR1 (or the article's discriminator) with no diagnostics
            ax.text(0.5, 0.5, _NO_SPECTRUM, ha="center", va="center", transform=ax.transAxes)
            continue
        ax.plot(steps[seen], h[f"eig_min_{p}"][seen], ".-", label="min eigenvalue")
        ax.plot(steps[seen], h[f"eig_max_{p}"][seen], ".-", label="max eigenvalue")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.legend(fontsize=8)
    return fig


_PLOTTERS = {
    "samples.png": _plot_samples,
    "losses.png": _plot_losses,
    "spectrum.png": _plot_spectrum,
}


def plot_run(result: TrainResult, out: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write :data:`PLOT_FILES`: samples against the modes, both losses, Hessian spectra.

    Parameters
    ----------
    result : TrainResult
    out : path
        Output folder.
    overwrite : bool
        Replace existing files; otherwise an existing file raises ``FileExistsError``.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ImportError
        Without matplotlib (extra ``plot``).
    """
    from hsc_ref._plotting import save_figure  # noqa: PLC0415  (optional extra)

    out = Path(out)
    return [
        save_figure(_PLOTTERS[name](result), out / name, overwrite=overwrite) for name in PLOT_FILES
    ]


class GanRun(NamedTuple):
    """A trained run and what :func:`run_to_folder` wrote.

    Attributes
    ----------
    result : TrainResult
        The run.
    written : WrittenOutputs
        Files written, and plots skipped for lack of matplotlib.
    """

    result: TrainResult
    written: WrittenOutputs

    @property
    def skipped_line(self) -> str | None:
        """One line naming the skipped plots and the install that brings them, or None."""
        return _extras.skipped_line([_extras.Skipped(self.written.skipped, "matplotlib")])


def run_to_folder(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    plots: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    checkpoint_every: int = 0,
    resume: bool = False,
) -> GanRun:
    """Train one GAN and write its outputs as one set; what ``hsc-ref gan`` runs.

    The output folder is checked (and locked against a concurrent run) before training, so
    a refused run costs nothing and changes nothing. While training, the folder holds the
    latest checkpoint (every ``checkpoint_every`` steps, and at Ctrl-C) with a manifest whose
    status (``running``, ``interrupted``, ``failed``) and ``steps_completed`` say the run is
    unfinished; the complete set replaces it at the end.

    Parameters
    ----------
    config : TrainConfig
        The run.
    out : path
        Output folder (created if missing): new, empty, or this command's earlier set.
    plots : bool
        Also write :data:`PLOT_FILES` (skipped, and listed, without matplotlib).
    overwrite : bool
        Replace an existing set.
    progress : bool
        Draw a tqdm progress bar (extra ``progress``; a one-line note without it).
    checkpoint_every : int, default 0
        Write a checkpoint every this many steps (0: only at Ctrl-C).
    resume : bool
        Continue the unfinished run in ``out`` (started with the same ``config``) from its
        checkpoint; the outputs are bit-identical to an uninterrupted run's (wall times
        aside).

    Returns
    -------
    GanRun

    Raises
    ------
    KeyboardInterrupt
        At Ctrl-C, after writing the checkpoint; its message says where the run stopped and
        how to continue it.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = run_to_folder(TrainConfig(data="dirac", method="hsc", steps=2), d, plots=False)
    >>> run.result.metrics["steps_completed"], run.skipped_line
    (2, None)
    """
    checkpoint_every = _validation.check_count(checkpoint_every, "checkpoint_every")
    with _outputs.OutputSet(
        out, SET_FILES, command="gan", overwrite=overwrite, resume=resume
    ) as outputs:
        check_memory(config)
        facts = config_facts(config)
        start = _checkpoint.resume_point(outputs, facts) if resume else None
        checkpoints = _checkpoint.Checkpoints(outputs, "gan", config.steps, facts, checkpoint_every)
        try:
            result = _train(config, checkpoints, start, progress)
            return GanRun(result, _commit_outputs(outputs, result, plots))
        except KeyboardInterrupt:
            raise checkpoints.interrupted() from None
        except Exception as exc:
            checkpoints.failed(exc)
            raise


def _train(
    config: TrainConfig,
    checkpoints: _checkpoint.Checkpoints,
    start: LoopProgress | None,
    progress: bool,
) -> TrainResult:
    """``train`` with the checkpoints (and a progress bar) on its callback."""
    bar = _extras.progress_bar(config.steps, f"{config.method} {config.data}", show=progress)
    if bar is None:
        return train(config, callback=checkpoints, start=start)

    def callback(progress: LoopProgress) -> None:  # keep the progress first, then show it
        checkpoints(progress)
        bar.update(progress.steps_completed - bar.n)

    with bar:
        return train(config, callback=callback, start=start)


def config_facts(config: TrainConfig) -> dict[str, Any]:
    """The JSON form of a config, as ``metrics.json`` and checkpoints record it.

    Options that do not apply to its method or data (:data:`hsc_ref.gan._options.SCOPES`) are
    left out: they changed nothing.

    Examples
    --------
    >>> config_facts(TrainConfig(hidden=(8, 8)))["hidden"]
    [8, 8]
    """
    facts = applicable(dataclasses.asdict(config))  # not mu of an Adam run: gan.options
    return {k: _jsonable(v) for k, v in facts.items()}
