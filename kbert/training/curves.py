"""Training curves from a CSV history (Keras `CSVLogger` or the pretraining step log) into one PNG:
losses on the left, every other metric (accuracy, F1, ...) on the right."""

from __future__ import annotations


def plot_history(csv_path, png_path, x_key="epoch"):
    """Plot every column of `csv_path` against `x_key` ("epoch": Keras' 0-based epochs, drawn from 1;
    "step"). Returns `png_path`, or None when the history is empty."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    xs = [float(r[x_key]) + (1 if x_key == "epoch" else 0) for r in rows]
    keys = [k for k in rows[0] if k not in (x_key, "epoch", "step", "learning_rate")]
    groups = [("loss", [k for k in keys if "loss" in k]), ("metrics", [k for k in keys if "loss" not in k])]
    groups = [g for g in groups if g[1]]
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    marker = "o" if len(rows) <= 50 else None
    for ax, (name, group) in zip(axes[0], groups):
        for k in group:
            ax.plot(xs, [float(r[k] or "nan") for r in rows], marker=marker, label=k)  # "" = not logged
        ax.set_xlabel(x_key)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return png_path


def plot_confusion(matrix, labels, png, title="confusion matrix (test)"):
    """A [true, predicted] count matrix as a labelled heat map; returns `png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
