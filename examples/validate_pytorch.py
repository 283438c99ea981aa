"""Validate a PyTorch implementation of HSC against hsc_ref's golden files.

Builds every golden case in PyTorch (``torch.func.hessian``, ``torch.linalg.eigh``/``pinv``,
``torch.linalg.cholesky``), writes its results as ``<case>/<output>`` arrays and runs the
checker: in float64 (everything comparable passes), in float32 (the step passes; what
depends on a cutoff near rounding is reported "not comparable"), and with the classic
pitfalls, each of which the checker catches with a message naming the cause:

- ``rcond``: float32 with ``torch.pinverse``'s default ``rcond=1e-15`` (inverts rounding noise);
- ``pinv_default``: ``torch.linalg.pinv(H)`` with its default ``rtol = n eps`` (keeps
  eigenvalues the golden cutoff ``100 n eps`` drops);
- ``layout``: the flat parameters loaded into ``nn.Linear`` without transposing ``W``;
- ``torch_order``: the gradient and Hessian reported in PyTorch's parameter order;
- ``gram``: the PyTorch tutorial's Gram normalization ``G / (C M)`` and ``mse_loss``;
- ``softplus``: ``F.softplus``, linear above its threshold 20 (off by ``e^-t`` there);
- ``bce_loss``: ``nn.BCELoss`` on sigmoid probabilities (logs clamped at -100) instead of
  BCE with logits;
- ``logaddexp``: ``torch.logaddexp(t, 0)``, exact in value and gradient, but its second
  derivative is NaN at ``t = -800`` (measured with torch 2.13).

Every softplus here is ``F.softplus(t, threshold=40)``: above 40 it returns ``t``, off by
``e^-40 = 4e-18``, below float64 rounding; the default threshold 20 is off by up to
``e^-20 = 2e-9`` (the golden set has logits from -9 to 800).

Run: ``python examples/validate_pytorch.py [--golden DIR] [--out DIR]`` (needs torch).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import golden, layout
from hsc_ref.layout import flatten, layers_to_torch_linear

PITFALLS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (precision, the case kinds it reaches: only those are computed and checked)
    "rcond": ("float32", ("matrix",)),
    "pinv_default": ("float64", ("matrix",)),
    "layout": ("float64", ("mlp", "gan")),
    "torch_order": ("float64", ("mlp", "gan")),
    "gram": ("float64", ("style",)),
    "softplus": ("float64", ("gan", "dirac")),
    "bce_loss": ("float64", ("gan", "dirac")),
    "logaddexp": ("float64", ("gan", "dirac")),
}


def pitfall_cases(gold: golden.GoldenSet, pitfall: str) -> list[str]:
    """The cases a pitfall can reach (the others would pass: they are not checked)."""
    return [name for name, case in gold.cases.items() if case.kind in PITFALLS[pitfall][1]]


def _phi(lam: Any) -> Any:
    """``lam / (1 + lam^2)``, as ``1 / (lam + 1/lam)`` for ``|lam| > 1`` (no overflow)."""
    import torch

    big = lam.abs() > 1
    large = torch.where(big, lam, torch.ones_like(lam))
    small = torch.where(big, torch.zeros_like(lam), lam)
    return torch.where(big, 1 / (large + 1 / large), small / (1 + small * small))


def spectral_outputs(h: Any, g: Any, lr: float, pitfall: str | None = None) -> dict[str, Any]:
    """Eigenvalues, ``H^+``, ``Hc``, rank and the three step routes, in PyTorch."""
    import torch

    n = h.shape[0]
    rtol = 100 * n * torch.finfo(h.dtype).eps  # the golden cutoff policy, passed explicitly

    def pinv(a: Any) -> Any:
        if pitfall == "rcond":
            return torch.pinverse(a)  # default rcond=1e-15: below float32 rounding
        if pitfall == "pinv_default":
            return torch.linalg.pinv(a, hermitian=True)  # default rtol = n eps: 100x too small
        return torch.linalg.pinv(a, rtol=rtol, hermitian=True)

    lam, q = torch.linalg.eigh(h)
    h_pinv = pinv(h)
    hc = h + h_pinv
    eye = torch.eye(n, dtype=h.dtype)
    factor, info = torch.linalg.cholesky_ex(eye + h @ h)
    rhs = (-lr * (h @ g)).unsqueeze(1)
    out = {
        "eigenvalues": lam,
        "pinv": h_pinv,
        "hc": hc,
        "rank": (lam.abs() > rtol * lam.abs().max()).sum(),
        "step": -lr * (q @ (_phi(lam) * (q.T @ g))),
        "step_cholesky": torch.cholesky_solve(rhs, factor).squeeze(1),
        "step_literal": -lr * (pinv(hc) @ g),
    }
    if int(info) != 0:  # I + H^2 not numerically SPD (||H||^2 swamps the 1): no Cholesky step
        del out["step_cholesky"]  # left out: the checker reports it "not provided" where it is
        # not comparable (matrix_large_norm at float32), and "missing" (a failure) elsewhere
    return out


def _mlp_params(theta: Any, layers: list[list[int]], pitfall: str | None) -> list[tuple]:
    """``[(weight, bias)]`` for ``F.linear`` from hsc_ref's flat layout (W = weight.T)."""
    params, offset = [], 0
    for fan_in, fan_out in layers:
        chunk = theta[offset : offset + fan_in * fan_out]
        if pitfall == "layout":
            weight = chunk.reshape(fan_out, fan_in)  # wrong: W row-major is not weight
        else:
            weight = chunk.reshape(fan_in, fan_out).T
        offset += fan_in * fan_out
        params.append((weight, theta[offset : offset + fan_out]))
        offset += fan_out
    return params


def mlp_forward(params: list[tuple], x: Any, activation: str) -> Any:
    """``x @ W + b`` per layer through ``F.linear``, the activation between layers."""
    import torch

    act = {"tanh": torch.tanh, "relu": torch.relu}[activation]
    h = x
    for i, (weight, bias) in enumerate(params):
        h = torch.nn.functional.linear(h, weight, bias)
        h = act(h) if i < len(params) - 1 else h
    return h


def _softplus(pitfall: str | None) -> Any:
    """``log(1 + e^t)``, exact in float64 at any logit, or as one of the pitfalls writes it."""
    import torch

    if pitfall == "softplus":
        return torch.nn.functional.softplus  # linear above threshold 20: off by e^-t there
    if pitfall == "logaddexp":
        return lambda t: torch.logaddexp(t, torch.zeros_like(t))  # NaN second derivative
    if pitfall == "bce_loss":  # softplus(t) = BCE(sigmoid(-t), 1) through nn.BCELoss

        def bce(t: Any) -> Any:
            p = torch.sigmoid(-t)
            return torch.nn.functional.binary_cross_entropy(p, torch.ones_like(p), reduction="none")

        return bce
    return lambda t: torch.nn.functional.softplus(t, beta=1.0, threshold=40.0)


def game_losses(case: golden.GoldenCase, dtype: Any, pitfall: str | None = None) -> tuple:
    """``(L_G(theta, phi), L_D(theta, phi))`` of a GAN or DiracGAN case, BCE with logits."""
    import torch

    softplus = _softplus(pitfall)
    x_real = torch.tensor(case.inputs["x_real"], dtype=dtype)
    z = torch.tensor(case.inputs["z"], dtype=dtype)
    if case.kind == "dirac":

        def generator(theta: Any) -> Any:
            return theta.expand(z.shape[0], 1)  # G(theta, z) = theta

        def discriminator(phi: Any, x: Any) -> Any:
            return phi * x

    else:
        layers_g, layers_d = case.meta["layers_g"], case.meta["layers_d"]

        def generator(theta: Any) -> Any:
            return mlp_forward(_mlp_params(theta, layers_g, pitfall), z, "tanh")

        def discriminator(phi: Any, x: Any) -> Any:
            return mlp_forward(_mlp_params(phi, layers_d, pitfall), x, "tanh")

    def loss_g(theta: Any, phi: Any) -> Any:
        return softplus(-discriminator(phi, generator(theta))).mean()

    def loss_d(theta: Any, phi: Any) -> Any:
        fake = discriminator(phi, generator(theta))
        return softplus(-discriminator(phi, x_real)).mean() + softplus(fake).mean()

    return loss_g, loss_d


def game_outputs(case: golden.GoldenCase, dtype: Any, pitfall: str | None = None) -> dict:
    """Per-player outputs (suffixes ``_g``, ``_d``) and the game Jacobian, in PyTorch."""
    import torch

    loss_g, loss_d = game_losses(case, dtype, pitfall)
    theta = torch.tensor(case.inputs["theta"], dtype=dtype)
    phi = torch.tensor(case.inputs["phi"], dtype=dtype)
    lr = float(case.inputs["lr"])
    n_g = theta.shape[0]
    out = {}
    players = (("_g", lambda t: loss_g(t, phi), theta), ("_d", lambda p: loss_d(theta, p), phi))
    for suffix, fun, point in players:
        g = torch.func.grad(fun)(point)
        h = torch.func.hessian(fun)(point)
        h = (h + h.T) / 2
        base = {"loss": fun(point), "grad": g, "hessian": h} | spectral_outputs(h, g, lr, pitfall)
        out |= {f"{k}{suffix}": v for k, v in base.items()}
    w = torch.cat([theta, phi])
    joint_g = torch.func.hessian(lambda v: loss_g(v[:n_g], v[n_g:]))(w)
    joint_d = torch.func.hessian(lambda v: loss_d(v[:n_g], v[n_g:]))(w)
    out["jacobian"] = torch.cat([joint_g[:n_g], joint_d[n_g:]])
    return out


def style_features(image: Any, layers: list[tuple]) -> list[Any]:
    """The case's feature extractor: ``2x - 1``, then per layer (pool,) periodic 3x3 conv, tanh."""
    import torch

    h = 2 * image - 1
    features = []
    for i, (weight, bias) in enumerate(layers):
        if i > 0:  # 2x2 average pooling of (H, W, C)
            rows, cols = h.shape[0] // 2, h.shape[1] // 2
            h = h[: 2 * rows, : 2 * cols].reshape(rows, 2, cols, 2, -1).mean(dim=(1, 3))
        # periodic 3x3 neighbourhoods, ordered (row offset, column offset, channel)
        rows = [torch.roll(h, 1 - a, dims=0) for a in range(3)]
        patches = torch.cat([torch.roll(r, 1 - b, dims=1) for r in rows for b in range(3)], -1)
        h = torch.tanh(patches @ weight + bias)
        features.append(h)
    return features


def style_outputs(case: golden.GoldenCase, dtype: Any, pitfall: str | None = None) -> dict:
    """Gram matrices, per-layer and total Gatys style loss, and the pixel Hessian, in PyTorch."""
    import torch

    def tensor(name: str) -> Any:
        return torch.tensor(case.inputs[name], dtype=dtype)

    layers = [(tensor(f"W{i}"), tensor(f"b{i}")) for i in range(len(case.meta["channels"]))]
    shape = tuple(case.meta["image_shape"])

    def gram(f: Any) -> Any:
        flat = f.reshape(-1, f.shape[-1])  # M x C
        g = flat.T @ flat
        if pitfall == "gram":  # the PyTorch tutorial's G / (C M) (batch 1)
            g = g / flat.numel()
        return g

    def layer_loss(f: Any, a: Any) -> Any:
        c, m = f.shape[-1], f.shape[0] * f.shape[1]
        if pitfall == "gram":  # the tutorial's mse_loss of normalized Gram matrices
            return ((gram(f) - a) ** 2).mean()
        return ((gram(f) - a) ** 2).sum() / (4 * c**2 * m**2)

    targets = [gram(f) for f in style_features(tensor("style_image"), layers)]

    def loss(flat: Any) -> Any:
        features = style_features(flat.reshape(shape), layers)
        return sum(layer_loss(f, a) for f, a in zip(features, targets, strict=True)) / len(features)

    x = tensor("image").reshape(-1)
    g = torch.func.grad(loss)(x)
    h = torch.func.hessian(loss)(x)
    h = (h + h.T) / 2
    out = {"loss": loss(x), "grad": g, "hessian": h}
    for i, (f, a) in enumerate(zip(style_features(x.reshape(shape), layers), targets, strict=True)):
        out |= {f"gram_{i}": gram(f), f"style_gram_{i}": a, f"layer_loss_{i}": layer_loss(f, a)}
    return out | spectral_outputs(h, g, float(case.inputs["lr"]), pitfall)


def mlp_loss_fn(case: golden.GoldenCase, dtype: Any, pitfall: str | None = None) -> Any:
    """The case's squared-error MLP loss as a function of the flat parameter vector."""
    import torch

    x = torch.tensor(case.inputs["x"], dtype=dtype)
    y = torch.tensor(case.inputs["y"], dtype=dtype)
    layers = case.meta["layers"]

    def loss(theta: Any) -> Any:
        h = mlp_forward(_mlp_params(theta, layers, pitfall), x, case.meta["activation"])
        return ((h - y) ** 2).mean()

    return loss


def module_loss(case: golden.GoldenCase) -> float:
    """The same loss through ``nn.Linear`` modules loaded with ``layers_to_torch_linear``."""
    import torch

    layers = case.meta["layers"]
    template = [(np.zeros((a, b)), np.zeros(b)) for a, b in layers]
    _, unflatten = flatten(template)
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[case.meta["activation"]]
    modules: list[Any] = []
    for weight, bias in layers_to_torch_linear(unflatten(case.inputs["theta"])):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        modules += [linear, act()]
    net = torch.nn.Sequential(*modules[:-1])
    x = torch.from_numpy(case.inputs["x"])
    with torch.no_grad():
        return float(((net(x) - torch.from_numpy(case.inputs["y"])) ** 2).mean())


def case_outputs(case: golden.GoldenCase, dtype: Any, pitfall: str | None = None) -> dict:
    """Every output of one golden case computed in PyTorch at ``dtype``."""
    import torch

    lr = float(case.inputs["lr"])
    if case.kind == "matrix":
        h = torch.tensor(case.inputs["H"], dtype=dtype)
        g = torch.tensor(case.inputs["g"], dtype=dtype)
        out = spectral_outputs(h, g, lr, pitfall)
    elif case.kind == "mlp":
        loss = mlp_loss_fn(case, dtype, pitfall)
        theta = torch.tensor(case.inputs["theta"], dtype=dtype)
        g = torch.func.grad(loss)(theta)
        h = torch.func.hessian(loss)(theta)
        h = (h + h.T) / 2
        out = {"loss": loss(theta), "grad": g, "hessian": h}
        out |= spectral_outputs(h, g, lr, pitfall)
    elif case.kind in ("gan", "dirac"):
        out = game_outputs(case, dtype, pitfall)
    elif case.kind == "style":
        out = style_outputs(case, dtype, pitfall)
    else:
        raise ValueError(f"no PyTorch implementation for case kind {case.kind!r}")
    if pitfall == "torch_order":
        _reorder_like_torch(case, out)
    return {f"{case.name}/{k}": v.detach().numpy() for k, v in out.items()}


def _reorder_like_torch(case: golden.GoldenCase, out: dict) -> None:
    """The pitfall: flat-layout outputs in PyTorch's ``parameters_to_vector`` order."""
    import torch

    for key in case.meta.get("flat_outputs", ()):
        suffix = key[-2:] if key[-2:] in ("_g", "_d") else ""
        layers = case.meta.get(f"layers{suffix}")
        if layers is None or key not in out:
            continue
        p = torch.as_tensor(layout.torch_parameter_order(layers))
        out[key] = out[key][p][:, p] if out[key].ndim == 2 else out[key][p]


def torch_results(
    gold: golden.GoldenSet, dtype: Any, pitfall: str | None = None, only: Any = None
) -> dict[str, np.ndarray]:
    """Results of every (or the ``only``) case of a golden set, computed in PyTorch."""
    names = list(gold.cases) if only is None else list(only)
    results: dict[str, np.ndarray] = {}
    for name in names:
        results |= case_outputs(gold.cases[name], dtype, pitfall)
    return results


def main(argv: list[str] | None = None) -> int:
    """Write (or read) a golden set, validate PyTorch at float64, float32 and the pitfalls."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", help="golden folder (default: write a fresh one)")
    parser.add_argument("--out", help="folder for results and reports (default: a temp dir)")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="hsc_ref_validate_"))
    gold_dir = Path(args.golden) if args.golden else out / "golden"
    if not args.golden:
        golden.write_golden(gold_dir, overwrite=True)
    gold = golden.read_golden(gold_dir)
    mlp_case = next(c for c in gold.cases.values() if c.kind == "mlp")
    print(
        f"nn.Linear modules via layers_to_torch_linear: loss {module_loss(mlp_case):.12f}, "
        f"reference {float(mlp_case.outputs['loss']):.12f}"
    )
    runs = [("float64", torch.float64, None), ("float32", torch.float32, None)]
    runs += [(f"pitfall_{p}", getattr(torch, PITFALLS[p][0]), p) for p in PITFALLS]
    verdicts = {}
    for label, dtype, pitfall in runs:
        only = pitfall_cases(gold, pitfall) if pitfall else None
        path = golden.save_results(
            out / f"{label}.npz", torch_results(gold, dtype, pitfall, only), overwrite=True
        )
        report = golden.check_results(gold, path, only=only)
        verdicts[label] = report.passed
        print(f"\n=== PyTorch {label}: {path}")
        print(report.format_table(failures_only=pitfall is not None))
    print(
        "\nsummary:", ", ".join(f"{k} {'passed' if v else 'FAILED'}" for k, v in verdicts.items())
    )
    expected = {label: label in ("float64", "float32") for label, _, _ in runs}
    return 0 if verdicts == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
