"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix."""
from __future__ import annotations

import numpy as np


def classification_report(y_true, y_pred, labels: list[str]) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    c = len(labels)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(0).astype(float), confusion.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(c), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(c), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(c), where=(precision + recall) > 0)
    present = actual > 0
    return {
        "accuracy": float(tp.sum() / max(1, len(y_true))),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                  "support": int(actual[i])} for i in range(c)},
        "confusion": confusion.tolist(),
        "labels": list(labels),
        "n": int(len(y_true)),
    }


def plot_confusion(report: dict, path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, m = report["labels"], np.asarray(report["confusion"], dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    size = max(5.0, 0.28 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8 if len(labels) > 20 else 10)
    ax.set_yticks(range(len(labels)), labels, fontsize=8 if len(labels) > 20 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or f"confusion (row-normalised), accuracy {report['accuracy']:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
