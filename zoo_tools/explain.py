"""Attention explanations of predictions (``zoo predict --explain-file``): each token on a
background as strong as its seed-attention weight, as an HTML page or a PNG bar chart.

Post: "The Fall of Attention?" (the seed attention shows which tokens drove a decision).
The rows are what ``ZooModel.predict(texts, explain=True)`` returns: text, label, score,
top, tokens, weights (None when the pooler returns no attention weights).
"""
from __future__ import annotations

import html
from pathlib import Path

from zoo_core.errors import ZooError
from zoo_core.plots import pyplot

EXPLAIN_SUFFIXES = (".html", ".htm", ".png")


def _weight_rgb(w: float, peak: float) -> tuple[int, int, int]:
    """White (no weight) to a strong orange (the peak token)."""
    t = 0.0 if peak <= 0 else max(0.0, min(1.0, w / peak))
    return 255, int(255 - 140 * t), int(255 - 235 * t)


def _weight_colour(w: float, peak: float) -> str:
    return "rgb({},{},{})".format(*_weight_rgb(w, peak))


def explanation_html(rows: list[dict], title: str = "zoo predict --explain") -> str:
    """One block per text: the prediction, then each token on a background as strong as its
    attention weight, with the weight written under it."""
    parts = [
        "<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        ".ex{margin:0 0 1.6em 0}.pred{font-weight:600;margin-bottom:.4em}.top{color:#555;font-weight:400}"
        ".tok{display:inline-block;text-align:center;margin:2px;padding:3px 6px;border-radius:4px;"
        "border:1px solid #ddd;font-family:ui-monospace,monospace}.tok small{display:block;color:#333;"
        "font-size:.75em}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
        "<p>Background strength: the seed attention weight of each token (the weights of one text sum to 1).</p>"]
    for row in rows:
        top = ", ".join(f"{html.escape(str(l))} {p:.3f}" for l, p in row.get("top", [])[1:])
        top = f" <span class='top'>(then {top})</span>" if top else ""
        parts.append(f"<div class='ex'><div class='pred'>{html.escape(row['text'])} &rarr; "
                     f"{html.escape(str(row['label']))} {row['score']:.3f}{top}</div>")
        weights = row.get("weights")
        if weights is None:
            parts.append("<div>(this model's pooler returns no attention weights)</div></div>")
            continue
        peak = max(weights) if weights else 0.0
        for token, w in zip(row["tokens"], weights):
            parts.append(f"<span class='tok' style='background:{_weight_colour(w, peak)}' "
                         f"title='{html.escape(token, quote=True)}: {w:.4f}'>{html.escape(token)}"
                         f"<small>{w:.3f}</small></span>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plot_explanations(rows: list[dict], path: str | Path, max_texts: int = 12, max_tokens: int = 30) -> Path:
    """One horizontal bar chart per text: its tokens top to bottom in reading order, the bar
    the attention weight; the title carries the prediction."""
    plt = pyplot()

    shown = [r for r in rows if r.get("weights")][:max_texts]
    if not shown:
        raise ZooError("--explain-file: this model's pooler returns no attention weights; nothing to draw")
    heights = [max(1.2, 0.22 * min(len(r["tokens"]), max_tokens) + 0.9) for r in shown]
    longest = max(len(t) for r in shown for t in r["tokens"][:max_tokens])
    fig, axes = plt.subplots(len(shown), 1, figsize=(7 + 0.06 * longest, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, row in zip(axes[:, 0], shown):
        keep = sorted(sorted(range(len(row["weights"])), key=lambda i: -row["weights"][i])[:max_tokens])
        tokens, weights = [row["tokens"][i] for i in keep], [row["weights"][i] for i in keep]
        peak = max(weights) or 1.0
        colours = [tuple(c / 255 for c in _weight_rgb(w, peak)) for w in weights]
        ax.barh(range(len(tokens)), weights, color=colours, edgecolor="#c45a00")
        ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.0, peak * 1.25))
        for i, w in enumerate(weights):
            ax.text(w, i, f" {w:.2f}", va="center", fontsize=7)
        cut = f" (the {max_tokens} largest of {len(row['tokens'])} tokens)" if len(row["tokens"]) > max_tokens else ""
        text = row["text"] if len(row["text"]) <= 60 else row["text"][:57] + "..."
        ax.set_title(f"{text!r} -> {row['label']} ({row['score']:.2f}){cut}", fontsize=9, loc="left")
        ax.grid(True, axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("seed attention weight")
    if len(rows) > len(shown):
        fig.text(0.01, 0.002, f"{len(rows) - len(shown)} more text(s) not drawn; use an .html file for all",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)



def check_explain_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in EXPLAIN_SUFFIXES:
        raise ZooError(f"--explain-file {path}: write an .html or a .png file, e.g. --explain-file why.html")
    return path


def write_explanations(rows: list[dict], path: str | Path) -> Path:
    path = check_explain_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        return plot_explanations(rows, path)
    path.write_text(explanation_html(rows), encoding="utf-8")
    return path
