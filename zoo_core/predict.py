"""Prediction and explanations for a loaded ZooModel."""
from __future__ import annotations

import torch

from .errors import ZooError
from .tokenize import Tokenizer


def predict(model, texts: list[str], top_k: int = 1, explain: bool = False, batch_size: int = 256) -> list[dict]:
    """For each text: ``{"text", "label", "score", "top": [(label, p), ...]}`` and, with
    ``explain``, ``"tokens"`` and ``"weights"`` (the pooler's attention per token)."""
    labels = model.labels
    if not labels:
        raise ZooError("this model has no labels (it was built, not trained); train it with zoo train first")
    top_k = max(1, min(top_k, len(labels)))
    tok = Tokenizer(model.run_spec.tokenizer)
    model.eval()
    device = next(model.parameters()).device
    results = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            tokens = tok.batch(chunk)
            inputs = {k: v.to(device) for k, v in model.encode(tokens).items()}
            out = model(inputs)
            probs = out["logits"].float().softmax(-1).cpu()
            p, idx = probs.topk(top_k, dim=-1)
            weights = out["weights"]
            # what each state stands for: zoo's tokens, or e.g. word-pieces for embed=bert states=pieces
            shown = model.embed.state_tokens(tokens) if hasattr(model.embed, "state_tokens") else tokens
            for j, text in enumerate(chunk):
                row = {"text": text, "label": labels[int(idx[j, 0])], "score": float(p[j, 0]),
                       "top": [(labels[int(i)], float(q)) for q, i in zip(p[j], idx[j])]}
                if explain:
                    row["tokens"] = shown[j]
                    if weights is None:
                        row["weights"] = None
                    else:
                        w = weights[j].float().cpu()
                        w = w.mean(0) if w.dim() == 2 else w  # several heads: their average
                        row["weights"] = [float(x) for x in w[: len(shown[j])]]
                results.append(row)
    return results
