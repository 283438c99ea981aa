"""The fixed method palette: one distinct colour per known method, in lines and markers alike."""

import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex

from hsc_ref._plotting import METHOD_COLOURS, method_colour
from hsc_ref.corrections import CORRECTIONS
from hsc_ref.gan.train import METHODS
from hsc_ref.lab.sweep._report import _plot_one
from hsc_ref.style.optimize import IMAGE_METHODS

KNOWN = sorted({*METHODS, *CORRECTIONS, *IMAGE_METHODS})


def test_every_known_method_has_its_own_colour():
    assert set(KNOWN) <= set(METHOD_COLOURS)
    colours = [to_hex(method_colour(m)) for m in KNOWN]
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("name", ["unknown", "mine", "hsc2", ""])
def test_fallback_is_deterministic_and_never_a_known_colour(name):
    assert method_colour(name) == method_colour(name)
    assert to_hex(method_colour(name)) not in {to_hex(c) for c in METHOD_COLOURS.values()}


def _row(method, phase, lr, median):
    return {
        "method": method,
        "phase": phase,
        "lr": lr,
        "modes_median": median,
        "modes_ci_low": median - 1,
        "modes_ci_high": median + 1,
    }


def test_sweep_figure_lines_and_confirmation_markers_take_the_method_colour():
    methods = ["article", "adam", "hsc", "sgd"]
    rows = [_row(m, "grid", lr, 3.0 + i) for i, m in enumerate(methods) for lr in (1e-3, 1e-2)]
    rows += [_row(m, "confirm", 1e-2, 4.0 + i) for i, m in enumerate(methods)]
    fig = _plot_one(rows, "gan", "ring", "modes")
    ax = fig.axes[0]
    seen: dict[str, set[str]] = {}
    for container in ax.containers:  # one error bar per method and phase: line, caps, bars
        method = container.get_label().removesuffix(" (confirmation)")
        data_line, caps, bars = container.lines
        colours = seen.setdefault(method, set())
        colours |= {to_hex(data_line.get_color()), to_hex(data_line.get_markerfacecolor())}
        colours |= {to_hex(cap.get_color()) for cap in caps}
        colours |= {to_hex(c) for bar in bars for c in bar.get_colors()}
    assert len(ax.containers) == 2 * len(methods)
    assert seen == {m: {method_colour(m)} for m in methods}


def test_spectrum_panel_without_a_spectrum_says_so():
    from types import SimpleNamespace

    import numpy as np

    from hsc_ref.lab._gan_run import _NO_SPECTRUM, _plot_spectrum

    nan = np.full(3, np.nan)
    history = {"eig_min_g": nan, "eig_max_g": nan, "eig_min_d": np.ones(3), "eig_max_d": np.ones(3)}
    fig = _plot_spectrum(SimpleNamespace(history=history, config=SimpleNamespace(steps=3)))
    generator, discriminator = fig.axes
    assert [t.get_text() for t in generator.texts] == [_NO_SPECTRUM]
    assert not generator.get_lines()
    assert not discriminator.texts and len(discriminator.get_lines()) == 2
