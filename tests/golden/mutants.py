"""Realistic bugs planted one at a time into the independent implementation.

Each mutant is one change of :class:`reference_impl.Config`, the words the checker's
diagnosis of the *first* root failure must contain for it, the outputs its root failures
may be (``None``: any), and, when float32 cannot see it, why. A diagnosis is judged
(:meth:`Mutant.judge`) ``right`` when it contains those words, ``partly`` when it contains
only words that name the bug's area (``partial``), ``none`` when it names no cause and
``wrong`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUTOFF_ROOTS = frozenset({"pinv", "hc", "rank", "step_literal"})
LOSS_ROOTS = frozenset({"loss"})
MODEL_ROOTS = frozenset({"loss", "grad", "hessian"})  # a loss that passes at float32 may not
STEP_ROOTS = frozenset({"step", "step_cholesky", "step_literal"})


@dataclass(frozen=True)
class Mutant:
    """One planted bug."""

    name: str
    description: str
    changes: dict[str, Any]
    diagnosis: str
    roots: frozenset[str] | None = None
    float32_blind: str = ""  # why float32 cannot see it ("" when it must fail there too)
    extra: dict[str, Any] = field(default_factory=dict)
    partial: tuple[str, ...] = ()  # words of a diagnosis that names the area, not the bug
    float32_diagnosis: str = ""  # the words float32's first root failure gets, when others

    def expected(self, precision: str) -> str:
        """The words the diagnosis of the first root failure must contain at ``precision``."""
        return (
            self.float32_diagnosis
            if precision == "float32" and self.float32_diagnosis
            else (self.diagnosis)
        )

    def judge(self, cause: str) -> str:
        """``right`` (names the bug), ``partly`` (names its area only), ``none`` (no cause,
        or no known one) or ``wrong`` (names another cause) for a diagnosis ``cause``."""
        if self.diagnosis in cause:
            return "right"
        if any(words in cause for words in self.partial):
            return "partly"
        if not cause or cause.startswith("no known cause matches"):
            return "none"
        return "wrong"


_RANGE = "kept or dropped near the cutoff"
_BELOW = "(0.83 x the cutoff) kept"  # matrix_cutoff_tight*'s eigenvalue at c / 1.2
_ABOVE = "(1.2 x the cutoff) dropped"  # ... and the one at 1.2 c

MUTANTS: tuple[Mutant, ...] = (
    # ----------------------------------------------------------------- the cutoff
    Mutant(
        "cutoff_x10", "cutoff rtol 10 x the policy", {"cutoff_scale": 10.0}, _RANGE, CUTOFF_ROOTS
    ),
    Mutant("cutoff_div10", "cutoff rtol / 10", {"cutoff_scale": 0.1}, _RANGE, CUTOFF_ROOTS),
    Mutant("cutoff_x3", "cutoff rtol 3 x the policy", {"cutoff_scale": 3.0}, _RANGE, CUTOFF_ROOTS),
    Mutant("cutoff_div3", "cutoff rtol / 3", {"cutoff_scale": 1 / 3}, _RANGE, CUTOFF_ROOTS),
    Mutant(
        "numpy_pinv_default",
        "numpy.linalg.pinv(H) with its default rcond = 1e-15 (and SVD)",
        {"cutoff_rule": "numpy_pinv"},
        "default rcond = 1e-15",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "scipy_pinvh_default",
        "scipy.linalg.pinvh(H) with its default rtol = n eps",
        {"cutoff_rule": "scipy_pinvh"},
        "SciPy's pinv/pinvh and torch.linalg.pinv default rtol = n * eps",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "scipy_pinv_default",
        "scipy.linalg.pinv(H) (SVD) with its default rtol = max(m, n) eps",
        {"cutoff_rule": "scipy_pinv"},
        "SciPy's pinv/pinvh and torch.linalg.pinv default rtol = n * eps",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "torch_linalg_pinv_default",
        "torch.linalg.pinv(H) default, rtol = max(m, n) eps (formula replicated in NumPy)",
        {"cutoff_rule": "torch_linalg_pinv"},
        "SciPy's pinv/pinvh and torch.linalg.pinv default rtol = n * eps",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "torch_pinverse_default",
        "torch.pinverse(H) default, rcond = 1e-15 (replicated)",
        {"cutoff_rule": "torch_pinverse"},
        "default rcond = 1e-15",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "jax_pinv_default",
        "jax.numpy.linalg.pinv(H) default, rtol = 10 max(m, n) eps (replicated)",
        {"cutoff_rule": "jax_pinv"},
        "JAX's pinv default rtol = 10 * n * eps",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "numpy_matrix_rank_default",
        "rank from numpy.linalg.matrix_rank(H), tol = S.max() max(M, N) eps",
        {"rank_rule": "numpy_matrix_rank"},
        "matrix_rank's default tol",
        frozenset({"rank"}),
    ),
    Mutant(
        "torch_matrix_rank_default",
        "rank from torch.linalg.matrix_rank(H) default, rtol = max(m, n) eps (replicated)",
        {"rank_rule": "torch_matrix_rank"},
        "matrix_rank's default tol",
        frozenset({"rank"}),
    ),
    Mutant(
        "jax_matrix_rank_default",
        "rank from jax.numpy.linalg.matrix_rank(H) default, S.max() max(M, N) eps (replicated)",
        {"rank_rule": "jax_matrix_rank"},
        "matrix_rank's default tol",
        frozenset({"rank"}),
    ),
    Mutant(
        "cutoff_absolute",
        "an absolute cutoff atol = 100 n eps, rtol = 0 (ignores ||H||)",
        {"cutoff_rule": "absolute"},
        "an absolute cutoff",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "cutoff_eps_of_other_precision",
        "the cutoff's eps of the other precision (float32's at float64, float64's at float32)",
        {"cutoff_rule": "other_eps"},
        "cutoff (eps of",
        CUTOFF_ROOTS,
    ),
    Mutant(
        "gan_cutoff_from_game_n",
        "each GAN player's cutoff from the whole game's n = n_G + n_D, not its own n",
        {"cutoff_rule": "game_n"},
        "the whole game's n = 39",
        CUTOFF_ROOTS,
    ),
    # ----------------------------------------------------------------- losses
    Mutant(
        "naive_softplus",
        "softplus(t) = log(1 + exp(t))",
        {"softplus": "naive"},
        "log(1 + exp(t))",
        MODEL_ROOTS,
    ),
    Mutant(
        "sigmoid_probability_bce",
        "BCE through sigmoid probabilities: -log(sigmoid(t)), -log(1 - sigmoid(t))",
        {"softplus": "sigmoid_bce"},
        "BCE through sigmoid",
        MODEL_ROOTS,
    ),
    Mutant(
        "torch_bce_loss_clamped",
        "nn.BCELoss on sigmoid outputs (its logs clamped at -100) instead of BCE with logits",
        {"softplus": "bce_clamped"},
        "nn.BCELoss",
        MODEL_ROOTS,
    ),
    Mutant(
        "torch_softplus_threshold",
        "PyTorch's F.softplus (linear above threshold 20) instead of logaddexp(0, t)",
        {"softplus": "torch_threshold"},
        "F.softplus",
        LOSS_ROOTS,
        float32_blind=(
            "its error e^-t < e^-20 = 2e-9 per logit is below float32 rounding (eps 1.2e-7)"
        ),
    ),
    Mutant(
        "minimax_generator_loss",
        "the minimax generator loss -mean softplus(f) instead of the non-saturating one",
        {"generator_loss": "minimax"},
        "minimax generator loss",
        LOSS_ROOTS,
    ),
    Mutant(
        "discriminator_loss_concatenated",
        "L_D as one mean over the concatenated real and fake batch (half the pinned sum)",
        {"d_loss_concatenated": True},
        "concatenated real and fake batch",
        LOSS_ROOTS,
    ),
    Mutant(
        "sum_over_batch",
        "losses summed over the batch instead of averaged",
        {"reduction": "sum"},
        "the batch size B = 16",
        LOSS_ROOTS,
    ),
    Mutant(
        "mlp_mean_over_batch_only",
        "squared error averaged over the batch only, summed over outputs",
        {"mlp_mean_over": "batch"},
        "the number of outputs",
        LOSS_ROOTS,
    ),
    Mutant(
        "transposed_weight_layout",
        "flat parameters loaded into nn.Linear without W = weight.T",
        {"weight_layout": "transposed"},
        "without W = weight.T",
        LOSS_ROOTS,
    ),
    Mutant(
        "torch_parameter_order",
        "gradient, Hessian and steps reported in PyTorch's parameters_to_vector order",
        {"report_order": "torch"},
        "PyTorch's parameter order",
        frozenset({"grad"}),
    ),
    Mutant(
        "gram_pytorch_tutorial",
        "the PyTorch tutorial's (and jcjohnson's) Gram G / (C M) and mse_loss",
        {"gram": "pytorch_tutorial"},
        "PyTorch tutorial's and jcjohnson's Gram",
        frozenset({"gram", "style_gram"}),
    ),
    Mutant(
        "gram_tensorflow_tutorial",
        "the TensorFlow tutorial's Gram G / M and a mean of squares",
        {"gram": "tensorflow_tutorial"},
        "TensorFlow tutorial's Gram",
        frozenset({"gram", "style_gram"}),
    ),
    Mutant(
        "gram_keras_example",
        "the Keras example's style loss sum (G - A)^2 / (4 * 9 * size^2)",
        {"gram": "keras_example"},
        "keras_example style-loss convention",
        frozenset({"layer_loss"}),
    ),
    Mutant(
        "style_layers_summed",
        "the style loss summed over layers instead of averaged",
        {"style_layers": "sum"},
        "the number of layers",
        LOSS_ROOTS,
    ),
    # ----------------------------------------------------------------- the step
    Mutant(
        "lr_twice", "the learning rate applied twice", {"lr_power": 2}, "applied twice", STEP_ROOTS
    ),
    Mutant("lr_left_out", "the learning rate left out", {"lr_power": 0}, "left out", STEP_ROOTS),
    Mutant("step_sign_flipped", "s = +lr pinv(Hc) g", {"step_sign": 1.0}, "sign flip", STEP_ROOTS),
    Mutant(
        "gradient_clipped",
        "the gradient clipped to norm 1 before the step (the article's loop clips)",
        {"clip_gradient": 1.0},
        "clipped to norm 1",
        STEP_ROOTS,
    ),
    Mutant(
        "newton_step",
        "the Newton step -lr pinv(H) g instead of -lr pinv(H + pinv(H)) g",
        {"step_method": "newton"},
        "the Newton step",
        STEP_ROOTS,
    ),
    Mutant(
        "hc_applied_not_inverted",
        "the step -lr Hc g: Hc where its pseudo-inverse belongs",
        {"step_method": "hc_times_g"},
        "Hc applied",
        STEP_ROOTS,
    ),
    # ----------------------------------------------------------------- precision, reporting
    Mutant(
        "float32_computation_saved_as_float64",
        "everything computed in float32, saved as float64",
        {"float32_inside": True},
        "float32",
        None,
        float32_blind="it is a float32 implementation: at float32 it is correct",
    ),
    Mutant(
        "symmetrized_game_jacobian",
        "the game Jacobian symmetrized like a Hessian",
        {"symmetrize_jacobian": True},
        "symmetric part",
        frozenset({"jacobian"}),
    ),
    Mutant(
        "singular_values_as_eigenvalues",
        "singular values (|lam|, sorted) reported as eigenvalues",
        {"eigenvalues": "singular_values"},
        "singular values reported as eigenvalues",
        frozenset({"eigenvalues"}),
    ),
    Mutant(
        "eigenvalues_descending",
        "eigenvalues reported in descending order",
        {"eigenvalues": "descending"},
        "descending order",
        frozenset({"eigenvalues"}),
    ),
    # ----------------------------------------------------------------- the diagnosis suite
    # (bugs whose diagnosis once named the wrong cause: float32 rounding, the learning rate,
    # softplus; kept at the end of the list)
    Mutant(
        "pinv_ridge",
        "pinv(H) as the ridge inverse (H^2 + 1e-8 I)^-1 H (torch.linalg.solve with a small eps)",
        {"pinv_method": "ridge"},
        "a ridge (Tikhonov) inverse",
        CUTOFF_ROOTS,
        partial=("kept or dropped near the cutoff",),
        # at float32 1e-8 shrinks no kept eigenvalue visibly (1e-8 / lam^2 < eps32 for lam ~ 1)
        # and inverts the float32 rounding noise of zeros: what the checker then sees is a
        # pseudo-inverse that keeps them, i.e. no cutoff
        float32_diagnosis="kept or dropped near the cutoff",
    ),
    Mutant(
        "pinv_positive_eigenvalues_only",
        "the cutoff keeps lam > cutoff, not |lam| > cutoff: negative eigenvalues dropped from "
        "pinv and rank",
        {"pinv_method": "positive_only"},
        "negative eigenvalues dropped",
        CUTOFF_ROOTS,
        partial=("kept or dropped near the cutoff",),
    ),
    Mutant(
        "eigenvectors_transposed",
        "Q.T used where Q belongs (Q^T diag(.) Q) in pinv and the spectral step",
        {"eigenvectors": "transposed"},
        "other eigenvectors",
        CUTOFF_ROOTS | STEP_ROOTS,
    ),
    Mutant(
        "gradient_accumulated_twice",
        "the gradient accumulated twice into .grad (backward run twice without zero_grad) "
        "before the step",
        {"step_gradient_scale": 2.0},
        "a doubled step",
        STEP_ROOTS,
        partial=("a constant factor",),
    ),
    Mutant(
        "pinv_mask_over_lam",
        "the pseudo-inverse's eigenvalues as kept / lam: 0/0 = NaN at an exact zero eigenvalue "
        "(the dead ReLU unit's, DiracGAN's at equilibrium)",
        {"pinv_method": "mask_over_lam"},
        "non-finite values first appear in pinv",
        CUTOFF_ROOTS,
        partial=("non-finite values",),
    ),
    Mutant(
        "pinv_svd_without_u",
        "pinv(H) as V diag(1/s) V^T from torch.linalg.svd (U dropped as equal to V for a "
        "symmetric H: the signs of negative eigenvalues lost)",
        {"pinv_method": "svd_without_u"},
        "actual inverts |lam|",
        CUTOFF_ROOTS,
        partial=("negative eigenvalues",),
    ),
    Mutant(
        "squared_error_halved",
        "the MLP loss 0.5 * mean (f - y)^2 (the 1/2 convention of squared error)",
        {"squared_error_half": True},
        "1/2 convention of squared error",
        LOSS_ROOTS,
        partial=("a constant factor",),
    ),
    # ----------------------------------------------------------------- the cutoff's band
    # factors near 1 and other norms of H in place of max|lam|: the matrix_cutoff_tight*
    # cases' eigenvalues at 1/1.2 and 1.2 x the cutoff see each one. Which matrix fails first
    # is a matter of rounding for x2 and /2 (the older cases' eigenvalues sit at exactly 0.5
    # and 2 x the cutoff), so a factor is judged by the cutoff range being named; a norm in
    # place of max|lam| must be named itself (the set's failed matrices together single it out)
    Mutant(
        "cutoff_x1_3", "cutoff rtol 1.3 x the policy", {"cutoff_scale": 1.3}, _RANGE, CUTOFF_ROOTS
    ),
    Mutant("cutoff_div1_3", "cutoff rtol / 1.3", {"cutoff_scale": 1 / 1.3}, _RANGE, CUTOFF_ROOTS),
    Mutant("cutoff_x2", "cutoff rtol 2 x the policy", {"cutoff_scale": 2.0}, _RANGE, CUTOFF_ROOTS),
    Mutant("cutoff_div2", "cutoff rtol / 2", {"cutoff_scale": 0.5}, _RANGE, CUTOFF_ROOTS),
    Mutant(
        "cutoff_frobenius_norm",
        "cutoff rtol x ||H||_F (torch.linalg.norm(H)'s default) instead of max|lam|",
        {"cutoff_rule": "frobenius"},
        "||H||_F",
        CUTOFF_ROOTS,
        partial=(_RANGE,),
    ),
    Mutant(
        "cutoff_trace",
        "cutoff rtol x |trace H| instead of max|lam|",
        {"cutoff_rule": "trace"},
        "|trace H|",
        CUTOFF_ROOTS,
        partial=(_RANGE,),
    ),
    Mutant(
        "cutoff_eigenvalue_sum",
        "cutoff rtol x sum |lam| (the nuclear norm) instead of max|lam|",
        {"cutoff_rule": "nuclear"},
        "the nuclear norm",
        CUTOFF_ROOTS,
        partial=(_RANGE,),
    ),
)
