"""GAN trainers: the article's loop against a hand-written PyTorch loop, hand-computed HSC steps
on DiracGAN, every rule reducing a convex player loss, history bookkeeping and bad input."""

import sys

import numpy as np
import pytest
import scipy.special
from strategies import EPS

from hsc_ref.corrections import summarize
from hsc_ref.derivatives import hessian
from hsc_ref.gan.data import sample
from hsc_ref.gan.game import init_game, mlp_game, player_losses
from hsc_ref.gan.train import (
    DEFAULT_LR,
    DEFAULT_OPTIONS,
    GAME_METHODS,
    HESSIAN_METHODS,
    METHOD_OPTIONS,
    METHODS,
    TrainConfig,
    make_rule,
    memory_parts,
    train,
)
from hsc_ref.layout import flatten, layers_from_torch_linear, layers_to_torch_linear
from hsc_ref.spectral import decompose

TINY = dict(data="ring", hidden=(4,), batch=8, n_eval=50)


def _torch_article_loop(config, torch):
    """The article's loop written directly in PyTorch (float64), on the trainer's batches."""
    nn = torch.nn
    init_seq, stream_seq, _ = np.random.SeedSequence(config.seed).spawn(3)
    fg = init_game(config.game(), np.random.default_rng(init_seq))
    G = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    D = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()).double()
    for net, layers in ((G, fg.unflatten_g(fg.theta)), (D, fg.unflatten_d(fg.phi))):
        linears = [m for m in net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, (w, b) in zip(linears, layers_to_torch_linear(layers), strict=True):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=0.0002, betas=(0.5, 0.999))
    stream = np.random.default_rng(stream_seq)
    ones, zeros = (
        torch.ones(config.batch, 1, dtype=torch.float64),
        torch.zeros(config.batch, 1, dtype=torch.float64),
    )
    losses_d, losses_g, hessians_g = [], [], []
    for _ in range(config.steps):
        x = torch.from_numpy(sample(config.game().data, config.batch, stream))
        z = torch.from_numpy(stream.standard_normal((config.batch, 2)))
        opt_d.zero_grad()
        fake = G(z)
        loss_d = criterion(D(x), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(D(fake), ones)
        # The Hessian reference differentiates the same loss written on logits
        # (BCEWithLogitsLoss on D without its Sigmoid): through nn.BCELoss(sigmoid(.)) the
        # second derivatives lose ~1e-12 relative (1 - sigmoid is formed by cancellation).
        logits_d = nn.Sequential(*list(D)[:-1])
        hessians_g.append(_torch_generator_hessian(torch, G, logits_d, z, ones))
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)
        opt_g.step()
        losses_d.append(loss_d.item())
        losses_g.append(loss_g.item())

    def flat(net):
        pairs = [(m.weight, m.bias) for m in net if isinstance(m, nn.Linear)]
        return flatten(layers_from_torch_linear(pairs))[0]

    return flat(G), flat(D), np.array(losses_d), np.array(losses_g), hessians_g


def _torch_generator_hessian(torch, G, logits_d, z, ones):
    """``torch.autograd.functional.hessian`` of the generator loss over our flat layout."""
    linears = [(i, m) for i, m in enumerate(G) if isinstance(m, torch.nn.Linear)]
    theta = flatten(
        layers_from_torch_linear([(m.weight, m.bias) for _, m in linears])
    )[0]  # fmt: skip

    def loss(flat):
        params, offset = {}, 0
        for i, m in linears:
            n_w = m.in_features * m.out_features
            W = flat[offset : offset + n_w].reshape(m.in_features, m.out_features)
            params[f"{i}.weight"] = W.T
            params[f"{i}.bias"] = flat[offset + n_w : offset + n_w + m.out_features]
            offset += n_w + m.out_features
        fake = torch.func.functional_call(G, params, (z,))
        return torch.nn.functional.binary_cross_entropy_with_logits(logits_d(fake), ones)

    H = torch.autograd.functional.hessian(loss, torch.from_numpy(theta))
    return H.detach().numpy()


def test_article_loop_matches_a_hand_written_pytorch_loop():
    torch = pytest.importorskip("torch")
    config = TrainConfig(method="article", steps=4, seed=3, **TINY)
    result = train(config)
    theta, phi, losses_d, losses_g, hessians_g = _torch_article_loop(config, torch)
    # Same float64 maths in two frameworks: losses agree to rounding (~1e-15 relative); the
    # parameters move by at most ~4 * lr = 8e-4 and differ only through the rounding of
    # Adam's normalized steps, far below 1e-12 (a wrong beta, lr or clip moves them ~1e-5)
    np.testing.assert_allclose(result.history["loss_d"], losses_d, rtol=1e-13)
    np.testing.assert_allclose(result.history["loss_g"], losses_g, rtol=1e-13)
    np.testing.assert_allclose(result.theta, theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.phi, phi, rtol=0, atol=1e-12)
    # the article's H (computed every step, unused): its extreme eigenvalues agree with
    # PyTorch's exact Hessian up to eigenvalue perturbation n * eps * ||H||
    for t, H in enumerate(hessians_g):
        lam = np.linalg.eigvalsh(0.5 * (H + H.T))
        tol = 64 * H.shape[0] * EPS * np.abs(lam).max()
        assert abs(result.history["eig_min_g"][t] - lam[0]) <= tol
        assert abs(result.history["eig_max_g"][t] - lam[-1]) <= tol


def _dirac_first_step(theta, psi, lr, schedule):
    """HSC step by hand: phi(h) = h / (1 + h^2) times the closed-form gradient."""

    def phi(h):
        return h / (1 + h * h)

    s = scipy.special.expit(psi * theta)
    g_d, h_d = theta * s, theta**2 * s * (1 - s)
    psi_new = psi - lr * phi(h_d) * g_d
    psi_g = psi_new if schedule == "alternating" else psi
    s = scipy.special.expit(psi_g * theta)
    g_g, h_g = -psi_g * (1 - s), psi_g**2 * s * (1 - s)
    return theta - lr * phi(h_g) * g_g, psi_new


@pytest.mark.parametrize("schedule", ["alternating", "simultaneous"])
def test_hsc_first_step_on_diracgan_is_the_hand_computed_one(schedule):
    config = TrainConfig(data="dirac", method="hsc", steps=1, lr=0.5, schedule=schedule, n_eval=5)
    init_seq = np.random.SeedSequence(0).spawn(3)[0]
    fg = init_game(config.game(), np.random.default_rng(init_seq))
    result = train(config)
    theta, psi = _dirac_first_step(fg.theta[0], fg.phi[0], 0.5, schedule)
    # a few flops on O(1) numbers: 8 eps absolute
    assert result.theta[0] == pytest.approx(theta, abs=8 * EPS)
    assert result.phi[0] == pytest.approx(psi, abs=8 * EPS)


PLAYER_METHODS = tuple(m for m in METHODS if m not in GAME_METHODS)


@pytest.mark.parametrize("method", PLAYER_METHODS)
def test_each_rule_reduces_a_convex_discriminator_loss(method):
    # a linear discriminator is logistic regression: L_D is convex in phi
    game = mlp_game("ring", hidden=())
    fg = init_game(game, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    losses = player_losses(fg, sample(game.data, 64, rng), rng.standard_normal((64, 2)))

    def fun(p):
        return losses.discriminator(fg.theta, p)

    lr = {"sgd": 0.5, "adam": 0.05, "article": 0.05, "sr1": 0.5}.get(method, 1.0)
    rule = make_rule(method, lr)
    x, state = fg.phi.copy(), rule.init(fg.phi)
    start = float(fun(x))
    for _ in range(10):
        from autograd import grad

        H = hessian(fun, x, batched=True) if method in HESSIAN_METHODS else None
        step, state = rule.update(grad(fun)(x), state, params=x, hessian=H)
        x = x + step
    assert float(fun(x)) < start - 1e-3


def test_same_config_gives_bit_identical_runs():
    config = TrainConfig(method="hsc", steps=3, **TINY)
    a, b = train(config), train(config)
    for key in a.history:
        if key != "wall_time":
            np.testing.assert_array_equal(a.history[key], b.history[key])
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_history_records_every_field_and_spectra_as_scheduled():
    adam_run = train(TrainConfig(method="adam", steps=6, spectrum_every=3, **TINY))
    article = train(TrainConfig(method="article", steps=6, spectrum_every=3, **TINY))
    hsc = train(TrainConfig(method="hsc", steps=6, spectrum_every=3, **TINY))
    assert np.isfinite(adam_run.history["eig_min_g"]).tolist() == [1, 0, 0, 1, 0, 0]
    assert np.isfinite(article.history["eig_min_g"]).all()  # the article computes H each step
    assert np.isfinite(article.history["eig_min_d"]).tolist() == [1, 0, 0, 1, 0, 0]
    assert np.isfinite(hsc.history["rank_d"]).all()
    for key in ("loss_g", "loss_d", "grad_norm_g", "step_norm_d", "wall_time"):
        assert np.isfinite(hsc.history[key]).all()
    # docs/design.md, "Properties of the correction": Hc keeps the rank of H
    np.testing.assert_array_equal(hsc.history["rank_corrected_g"], hsc.history["rank_g"])
    # the HSC step is bounded by lr ||g|| / 2
    h = hsc.history
    assert np.all(h["step_norm_g"] <= 0.5 * h["grad_norm_g"] * (1 + 1e-12))


@pytest.mark.parametrize(
    ("method", "hessians_per_step"), [("adam", 0), ("sgd", 0), ("sr1", 0), ("article", 1)]
)
def test_by_default_no_hessian_is_computed_that_the_update_does_not_use(
    method, hessians_per_step, monkeypatch
):
    # spectrum_every=0 (the default): only the article's generator computes H (its loop does)
    calls = []

    module = sys.modules[TrainConfig.__module__]
    real = module.player_value_grad_hessian  # where the trainer gets every player's Hessian

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "player_value_grad_hessian", counting)
    result = train(TrainConfig(method=method, steps=3, **TINY))
    assert len(calls) == 3 * hessians_per_step
    assert result.metrics["spectra_recorded_g"] == 3 * hessians_per_step
    assert result.metrics["spectra_recorded_d"] == 0
    assert result.metrics["indefinite_fraction_d"] is None  # nothing measured, nothing claimed


def test_alternating_and_simultaneous_share_the_discriminator_step_only():
    alt = train(TrainConfig(method="sgd", steps=1, schedule="alternating", **TINY))
    sim = train(TrainConfig(method="sgd", steps=1, schedule="simultaneous", **TINY))
    np.testing.assert_array_equal(alt.phi, sim.phi)
    assert not np.array_equal(alt.theta, sim.theta)


def test_a_diverging_run_stops_at_the_first_non_finite_step_with_finite_parameters():
    # DiracGAN logits are psi * theta: a huge step makes the next product overflow
    result = train(TrainConfig(data="dirac", method="sgd", lr=1e200, steps=20, n_eval=5))
    t = result.metrics["diverged_at"]
    assert t is not None and t < 20 and result.metrics["steps_completed"] == t
    assert np.isfinite(result.theta).all() and np.isfinite(result.phi).all()
    assert np.isnan(result.history["loss_d"][t:]).all()


def test_spectrum_summary_counts_inertia_and_keeps_rank_under_hc():
    s = summarize(decompose(np.diag([-2.0, 0.0, 0.0, 1e-3, 5.0])))
    assert (s.eig_min, s.eig_max, s.eig_abs_min, s.pinv_abs_max) == (-2.0, 5.0, 0.0, 1e3)
    assert (s.n, s.rank, s.positive, s.negative, s.zero) == (5, 3, 2, 1, 2)
    assert (s.rank_corrected, s.negative_corrected, s.zero_corrected) == (3, 1, 2)
    assert s.corrected_abs_min_kept == 2.5  # min |lam + 1/lam| over kept lam: at lam = -2


def test_dirac_run_reports_distance_to_equilibrium():
    result = train(TrainConfig(data="dirac", method="sgd", steps=2, n_eval=5))
    assert result.metrics["distance_to_equilibrium"] == pytest.approx(
        np.hypot(result.theta[0], result.phi[0]), rel=0
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "lbfgs"}, "method must be one of"),
        ({"data": "moon"}, "data must be one of"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"steps": 2.5}, "steps must be a positive integer"),
        ({"batch": -1}, "batch must be a positive integer"),
        ({"schedule": "random"}, "schedule must be one of"),
        ({"lr": -0.1}, "lr must be"),
        ({"method": "article", "loss": "minimax"}, "article's loop uses"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"spectrum_every": -1}, "spectrum_every must be a non-negative integer"),
        ({"method": "sga", "schedule": "alternating"}, "defined for schedule='simultaneous'"),
        ({"method": "hsc", "gamma": 2.0}, "gamma applies only to method 'conopt'"),
        ({"method": "conopt", "sga_lambda": 2.0}, "sga_lambda applies only to method 'sga'"),
        ({"method": "conopt", "gamma": 0.0}, "gamma must be"),
        ({"method": "sga", "sga_lambda": -1.0}, "sga_lambda must be"),
    ],
)
def test_bad_config_is_rejected_with_the_rule(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_train_and_make_rule_reject_wrong_types():
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train({"method": "hsc"})
    with pytest.raises(ValueError, match="method must be one of"):
        make_rule("bfgs", 1.0)


def test_the_exact_hessian_route_trains_as_the_autograd_reference():
    # The routes' Hessians agree to 1e-13 of max|H| (tests/gan/test_exact.py) and the
    # gradients to rounding. The HSC step is 1-Lipschitz in H and |phi| <= 1/2, so one step
    # differs by at most lr (||g|| n 1e-13 max|H| + ||dg|| / 2): below 1e-12 here, where
    # n = 22, ||g|| < 1 and max|H| < 1; 20 steps may compound it, 1e-10 leaves room for that.
    runs = {
        route: train(TrainConfig(method="hsc", steps=20, hessian_route=route, **TINY))
        for route in ("exact", "autograd")
    }
    exact, reference = runs["exact"], runs["autograd"]
    h = exact.history
    assert h["n_g"][0] == 22 and max(np.nanmax(h["eig_max_g"]), np.nanmax(h["grad_norm_g"])) < 1
    np.testing.assert_allclose(exact.theta, reference.theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(exact.phi, reference.phi, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(exact.history["rank_g"], reference.history["rank_g"])
    with pytest.raises(ValueError, match="hessian_route must be one of"):
        TrainConfig(hessian_route="fast")


# --------------------------------------------------------------------------- game methods


def test_game_methods_default_to_simultaneous_and_the_others_to_alternating():
    for method in METHODS:
        want = "simultaneous" if method in GAME_METHODS else "alternating"
        assert TrainConfig(method=method).schedule == want
        assert DEFAULT_LR[method] > 0
    # every declared option is a config field with a default, and only game methods and
    # damped declare any
    fields = TrainConfig.__dataclass_fields__
    assert {n for names in METHOD_OPTIONS.values() for n in names} == set(DEFAULT_OPTIONS)
    assert set(DEFAULT_OPTIONS) <= set(fields) and set(METHOD_OPTIONS) <= set(METHODS)


@pytest.mark.parametrize("method", GAME_METHODS)
def test_each_game_method_trains_records_every_field_and_is_bit_identical(method):
    config = TrainConfig(method=method, steps=3, spectrum_every=2, **TINY)
    a, b = train(config), train(config)
    for key in ("loss_g", "loss_d", "grad_norm_g", "grad_norm_d", "step_norm_g", "wall_time"):
        assert np.isfinite(a.history[key]).all(), key
    # spectra only where asked (steps 0 and 2), outside the update
    assert np.isfinite(a.history["rank_g"]).tolist() == [True, False, True]
    assert a.metrics["diverged_at"] is None
    for key in a.history.keys() - {"wall_time"}:
        np.testing.assert_array_equal(a.history[key], b.history[key])
    np.testing.assert_array_equal(a.theta, b.theta)
    with pytest.raises(ValueError, match="updates both players jointly"):
        make_rule(method, 0.1)


def test_a_game_method_reads_its_own_option_only():
    base = dict(method="conopt", steps=2, **TINY)
    default, explicit, other = (
        train(TrainConfig(**base)),
        train(TrainConfig(**base, gamma=DEFAULT_OPTIONS["gamma"])),
        train(TrainConfig(**base, gamma=5.0)),
    )
    np.testing.assert_array_equal(default.theta, explicit.theta)  # None means the default
    assert not np.array_equal(default.theta, other.theta)  # gamma enters the step
    sga = [train(TrainConfig(**{**base, "method": "sga"}, sga_lambda=lam)) for lam in (1.0, 3.0)]
    assert not np.array_equal(sga[0].phi, sga[1].phi)


def test_cgd_counts_the_joint_game_matrices_it_solves_with():
    hessian_part = memory_parts(TrainConfig(method="cgd"))[0][0]
    assert "the exact 147 x 147 game matrices" in hessian_part  # n_g + n_d = 82 + 65
    assert "82 x 82 Hessian" in memory_parts(TrainConfig(method="conopt"))[0][0]
