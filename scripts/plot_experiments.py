#!/usr/bin/env python3
"""Figures of `pipps experiment ...` from its CSV files (matplotlib; `make plot-env` installs it).

Usage: plot_experiments.py EXPERIMENT DIR
  EXPERIMENT is learning, landscape, variance, resampling or cycle (`pipps demo`'s learning
  curve, from learning-curve.csv); DIR holds the experiment's CSV files
  and receives the PNG figures. Only the CSV files are read, so figures can be redrawn at any time.
"""
import csv
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(text):
    return float(text) if text not in ("", None) else math.nan


def save(fig, directory, name):
    path = os.path.join(directory, name)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"figure: {path}")


def learning(directory):
    """PIPPS Figure 4 (cost per trial) and Tables 1-2 (success rates with Wilson intervals)."""
    trials = read(os.path.join(directory, "learning_trials.csv"))
    success = read(os.path.join(directory, "learning_success.csv"))
    panels = sorted({(r["task"], num(r["noise"])) for r in trials})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (task, k) in zip(axes[0], panels):
        groups = defaultdict(lambda: defaultdict(list))
        for r in trials:
            if r["task"] == task and num(r["noise"]) == k:
                groups[r["method"]][int(r["trial"])].append(num(r["evaluation_cost"]))
        for method, by_trial in sorted(groups.items()):
            xs = sorted(by_trial)
            means = [sum(by_trial[x]) / len(by_trial[x]) for x in xs]
            half = []
            for x, m in zip(xs, means):
                v = by_trial[x]
                sd = math.sqrt(sum((c - m) ** 2 for c in v) / (len(v) - 1)) if len(v) > 1 else 0
                half.append(1.96 * sd / math.sqrt(len(v)))
            runs = len(next(iter(by_trial.values())))
            ax.errorbar(xs, means, yerr=half, marker="o", ms=3, capsize=2, label=f"{method} ({runs} runs)")
        ax.set_title(f"{task}, k = {k:g}")
        ax.set_xlabel("trial")
        ax.set_ylabel("cost of the trial (mean of evaluation rollouts)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    save(fig, directory, "learning_cost.png")

    tasks = sorted({r["task"] for r in success})
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = [r for r in success if r["task"] == task]
        noises = sorted({num(r["noise"]) for r in rows})
        methods = sorted({r["method"] for r in rows})
        width = 0.8 / max(len(methods), 1)
        for j, method in enumerate(methods):
            xs, ys, lo, hi = [], [], [], []
            for i, k in enumerate(noises):
                for r in rows:
                    if r["method"] == method and num(r["noise"]) == k:
                        rate = num(r["success_rate"])
                        xs.append(i + (j - (len(methods) - 1) / 2) * width)
                        ys.append(rate)
                        # Rounding can put an end a hair inside the rate (10 of 10: high = 1 − 1e-16).
                        lo.append(max(0.0, rate - num(r["wilson_low"])))
                        hi.append(max(0.0, num(r["wilson_high"]) - rate))
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=method)
        ax.set_xticks(range(len(noises)), [f"k = {k:g}" for k in noises])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("success rate (95% Wilson interval)")
        ax.set_title(task)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    save(fig, directory, "learning_success.png")


def by_estimator(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[r["estimator"]].append(r)
    for v in groups.values():
        v.sort(key=lambda r: num(r["delta"]))
    return groups


def band(ax, rows, key, label, log=False):
    xs = [num(r["delta"]) for r in rows]
    ys = [num(r[key]) for r in rows]
    lo = [num(r[key + "_low"]) for r in rows]
    hi = [num(r[key + "_high"]) for r in rows]
    if log:
        # Magnitudes on a log axis (the paper's 2d-f): |estimate| with the interval's upper end.
        ys = [abs(y) for y in ys]
        hi = [max(abs(a), abs(b)) for a, b in zip(lo, hi)]
        lo = [max(y - (h - y), y * 1e-3) for y, h in zip(ys, hi)]
        ax.set_yscale("log")
    line, = ax.plot(xs, ys, label=label)
    ax.fill_between(xs, lo, hi, alpha=0.3, color=line.get_color())


def landscape(directory):
    """PIPPS Figure 2: objective (2a), value slices (2b, 2c), gradient magnitudes (2d-f)."""
    rows = read(os.path.join(directory, "landscape.csv"))
    groups = by_estimator(rows)
    names = sorted(groups)
    fig, axes = plt.subplots(2, max(3, len(names)), figsize=(4.5 * max(3, len(names)), 7.5), squeeze=False)
    band(axes[0][0], groups[names[0]], "value", "J (95% interval)")
    axes[0][0].set_title("(a) objective, random numbers fixed")
    axes[0][0].set_xlabel("Δθ")
    slice_path = os.path.join(directory, "landscape_slice.csv")
    if os.path.exists(slice_path):
        cells = read(slice_path)
        deltas = sorted({num(r["delta"]) for r in cells})
        for ax, delta, tag in zip(axes[0][1:3], deltas, "bc"):
            pts = [r for r in cells if num(r["delta"]) == delta]
            xs = sorted({num(r["position"]) for r in pts})
            ys = sorted({num(r["angle"]) for r in pts})
            grid = [[math.nan] * len(xs) for _ in ys]
            for r in pts:
                grid[ys.index(num(r["angle"]))][xs.index(num(r["position"]))] = num(r["value"])
            im = ax.imshow(grid, origin="lower", aspect="auto", extent=[xs[0], xs[-1], ys[0], ys[-1]], cmap="viridis")
            fig.colorbar(im, ax=ax, label="V(x₁)", format="%.7g")
            ax.set_title(f"({tag}) value over x₁ at Δθ = {delta:g}")
            ax.set_xlabel("cart position x₁ (m)")
            ax.set_ylabel("pole angle x₁ (rad)")
    for ax in axes[0][3:]:
        ax.axis("off")
    for ax, name in zip(axes[1], names):
        band(ax, groups[name], "gradient", name, log=True)
        ax.set_title(f"|dJ/dΔθ|, {name} (95% interval)")
        ax.set_xlabel("Δθ")
        ax.grid(alpha=0.3)
    for ax in axes[1][len(names):]:
        ax.axis("off")
    save(fig, directory, "landscape.png")


def variance(directory):
    """PIPPS Figure 3: variance of dJ/dΔθ against the number of particles."""
    rows = read(os.path.join(directory, "variance.csv"))
    deltas = sorted({num(r["delta"]) for r in rows})
    fig, axes = plt.subplots(1, len(deltas), figsize=(5 * len(deltas), 4), squeeze=False)
    for ax, delta in zip(axes[0], deltas):
        groups = defaultdict(list)
        for r in rows:
            if num(r["delta"]) == delta:
                groups[r["estimator"]].append(r)
        for name, pts in sorted(groups.items()):
            pts.sort(key=lambda r: int(r["particles"]))
            ax.plot([int(r["particles"]) for r in pts], [num(r["variance"]) for r in pts], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("particles P")
        ax.set_ylabel("variance of dJ/dΔθ")
        ax.set_title(f"Δθ = {delta:g}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    save(fig, directory, "variance.png")


def resampling(directory):
    """Resampling paper Figures 3 (partial resampling) and 4 (mixture resampling)."""
    rows = read(os.path.join(directory, "resampling.csv"))
    groups = by_estimator(rows)
    families = [("partial", "Gaussian resampling, partial ratio R (R = 0: full)"), ("mog", "mixture resampling mog:K:M")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    for ax, (prefix, title) in zip(axes[0], families):
        # Full Gaussian resampling (R = 0) is named "gr".
        for name in sorted(n for n in groups if n.startswith(prefix) or (prefix == "partial" and n == "gr")):
            band(ax, groups[name], "gradient", name, log=True)
        ax.set_title(title)
        ax.set_xlabel("Δθ")
        ax.set_ylabel("|dJ/dΔθ| (95% interval)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    save(fig, directory, "resampling.png")


def cycle(directory):
    """The learning curve of a learn-deploy cycle (`pipps demo`): cost of every trial on the robot."""
    rows = read(os.path.join(directory, "learning-curve.csv"))
    trial = [int(r["trial"]) for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax.plot(trial, [num(r["cost"]) for r in rows], "o-", color="tab:blue")
    for r, t in zip(rows, trial):
        if r["random"] == "1":
            ax.axvspan(t - 0.5, t + 0.5, color="0.9")
    ax.set_xlabel("trial")
    ax.set_ylabel("cost of the trial (sum over steps)")
    ax.set_title(f"{rows[0]['robot']} · {rows[0]['task']} (grey: random)" if rows else "no trials")
    ax.grid(alpha=0.3)
    final = [num(r["final_cost"]) for r in rows]
    ax2.plot(trial, final, "o-", color="tab:orange", label="mean cost, last second")
    ok = [(t, f) for t, f, r in zip(trial, final, rows) if r["success"] == "1"]
    if ok:
        ax2.plot(*zip(*ok), "*", color="tab:green", markersize=14, label="success")
    if rows:
        ax2.axhline(num(rows[0]["threshold"]), color="0.5", linestyle="--", label="success threshold")
    ax2.set_xlabel("trial")
    ax2.set_ylabel("final cost")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator
    for a in (ax, ax2):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    save(fig, directory, "learning-curve.png")


def main(argv):
    if len(argv) != 3 or argv[1] not in FIGURES:
        sys.exit(__doc__)
    FIGURES[argv[1]](argv[2])


FIGURES = {"learning": learning, "landscape": landscape, "variance": variance, "resampling": resampling, "cycle": cycle}

if __name__ == "__main__":
    main(sys.argv)
