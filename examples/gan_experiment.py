"""The GAN comparison of docs/gan.md: the article's loop vs the HSC step vs comparators.

Trains every (data, method, seed) combination with the same model sizes and step budget,
then prints a Markdown table of mean +- standard error over seeds (modes captured,
high-quality %, reverse KL, wall time per step, runs that diverged) and the spectrum
statistics. With ``--out`` it also writes every run's metrics as JSON.

Defaults run in seconds (a smoke version). The table in docs/gan.md was made with::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python examples/gan_experiment.py \\
        --steps 500 --seeds 5 --out gan_experiment.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hsc_ref import _io
from hsc_ref.gan.train import TrainConfig, train

METHODS = ("article", "hsc", "newton", "abs", "adam")


def run(
    data_sets: list[str],
    methods: list[str],
    seeds: int,
    steps: int,
    hidden: tuple[int, ...],
    *,
    lr: float | None = None,
) -> list[dict]:
    """Train every combination; return one metrics dict per run."""
    rows = []
    for data in data_sets:
        for seed in range(seeds):
            for method in methods:
                config = TrainConfig(
                    data=data, method=method, steps=steps, seed=seed, hidden=hidden,
                    batch=64, spectrum_every=10, lr=lr,
                )  # fmt: skip
                start = time.perf_counter()
                result = train(config)
                row = dict(result.metrics, data=data, method=method, seed=seed)
                row["run_seconds"] = time.perf_counter() - start
                rows.append(row)
                print(
                    f"{data} {method:8s} seed {seed}: modes {row['modes_captured']}, "
                    f"HQ {row['high_quality_fraction']:.3f}, diverged_at {row['diverged_at']}, "
                    f"{row['run_seconds']:.1f} s",
                    flush=True,
                )
    return rows


def _mean_se(values: list[float]) -> str:
    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return "n/a"
    se = x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return f"{x.mean():.3g} ± {se:.2g}"


def table(rows: list[dict]) -> str:
    """Markdown tables: metrics, then spectra, one line per (data, method)."""
    head = (
        "| data | method | lr | modes captured | HQ % | reverse KL | wall ms/step | diverged |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    spec_head = (
        "| data | method | indefinite H_G | indefinite H_D | rank-deficient H_G | "
        "rank-deficient H_D | rank(Hc) != rank(H) |\n|---|---|---|---|---|---|---|"
    )
    lines, spec = [head], [spec_head]
    order = {m: i for i, m in enumerate(METHODS)}
    keys = sorted({(r["data"], r["method"]) for r in rows}, key=lambda k: (k[0], order.get(k[1])))
    for data, method in keys:
        rs = [r for r in rows if r["data"] == data and r["method"] == method]
        kl = [r["reverse_kl"] for r in rs]
        diverged = sum(r["diverged_at"] is not None for r in rs)
        lines.append(
            f"| {data} | {method} | {rs[0]['lr']:g} | "
            f"{_mean_se([r['modes_captured'] for r in rs])} | "
            f"{_mean_se([100 * r['high_quality_fraction'] for r in rs])} | {_mean_se(kl)} | "
            f"{_mean_se([1e3 * r['wall_time_per_step'] for r in rs if r['wall_time_per_step']])} | "
            f"{diverged}/{len(rs)} |"
        )
        spec.append(
            f"| {data} | {method} | {_mean_se([r['indefinite_fraction_g'] for r in rs])} | "
            f"{_mean_se([r['indefinite_fraction_d'] for r in rs])} | "
            f"{_mean_se([r['rank_deficient_fraction_g'] for r in rs])} | "
            f"{_mean_se([r['rank_deficient_fraction_d'] for r in rs])} | "
            f"{sum(r['rank_changes_under_hc_g'] + r['rank_changes_under_hc_d'] for r in rs)} |"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(spec)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16])
    parser.add_argument("--lr", type=float, help="step size of every method (default: its own)")
    parser.add_argument("--out", help="write every run's metrics to this JSON file")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    rows = run(args.data, args.methods, args.seeds, args.steps, tuple(args.hidden), lr=args.lr)
    text = table(rows)
    print(text)
    if args.out:
        _io.atomic_write_json(Path(args.out), json.loads(json.dumps(rows)), overwrite=args.force)
    return text


if __name__ == "__main__":
    main()
