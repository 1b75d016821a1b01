"""Running a model on text: predictions, explanations, class probabilities, pooled vectors,
and the classification evaluation. Eval mode, no gradients, input order kept."""
from __future__ import annotations

import torch
from torch import nn

from .errors import ZooError
from .metrics import classification_report
from .tokenize import Tokenizer


def model_device(model) -> torch.device:
    """Where the model lives (a gradient-free model, e.g. recipe=hdc, may have buffers only)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def model_outputs(model, token_lists: list[list[str]], key: str, batch_size: int = 256) -> list[torch.Tensor]:
    """``model(...)[key]`` for each token list, in input order (batches of similar lengths)."""
    model.eval()
    device = model_device(model)
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    out = [None] * len(token_lists)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        inputs = {k: v.to(device) for k, v in model.encode([token_lists[i] for i in idx]).items()}
        values = model(inputs)[key].float().cpu()
        for j, i in enumerate(idx):
            out[i] = values[j]
    return out


def class_probabilities(model, token_lists, batch_size: int = 256) -> torch.Tensor:
    """(N, C) softmax probabilities."""
    logits = model_outputs(model, token_lists, "logits", batch_size)
    return torch.stack(logits).softmax(-1) if logits else torch.zeros(0, model.spec.num_classes)


def pooled_vectors(model, token_lists, batch_size: int = 256) -> torch.Tensor:
    """(N, D) pooled vectors."""
    pooled = model_outputs(model, token_lists, "pooled", batch_size)
    return torch.stack(pooled) if pooled else torch.zeros(0, model.pool.out_dim)


def evaluate_classifier(model, token_lists, label_ids, labels, batch_size: int = 256) -> dict:
    """Accuracy, macro-F1, per-class scores, confusion matrix and the mean NLL."""
    probs = class_probabilities(model, token_lists, batch_size)
    report = classification_report(label_ids, probs.argmax(-1).tolist(), labels)
    target = torch.tensor(label_ids, dtype=torch.long)
    report["loss"] = float(nn.functional.nll_loss(probs.clamp_min(1e-12).log(), target)) if len(target) else 0.0
    if any(hasattr(m, "step_states") for m in getattr(model, "mixers", [])) and len(target):
        # mixer=ponder: the mean halting step (halting is sampled, so a second pass gives an estimate)
        report["ponder_steps"] = float(torch.stack(model_outputs(model, token_lists, "steps", batch_size)).mean())
    return report


@torch.no_grad()
def predict(model, texts: list[str], top_k: int = 1, explain: bool = False, batch_size: int = 256) -> list[dict]:
    """For each text: ``{"text", "label", "score", "top": [(label, p), ...]}`` and, with
    ``explain``, ``"tokens"`` and ``"weights"`` (the pooler's attention per token)."""
    labels = model.labels
    if not labels:
        raise ZooError("this model has no labels (it was built, not trained); train it with zoo train first")
    top_k = max(1, min(top_k, len(labels)))
    tok = Tokenizer(model.run.tokenizer)
    model.eval()
    device = model_device(model)
    results = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        tokens = tok.batch(chunk)
        out = model({k: v.to(device) for k, v in model.encode(tokens).items()})
        p, idx = out["logits"].float().softmax(-1).cpu().topk(top_k, dim=-1)
        # what each state stands for: zoo's tokens, or e.g. word-pieces for embed=bert states=pieces
        shown = model.embed.state_tokens(tokens) if hasattr(model.embed, "state_tokens") else tokens
        for j, text in enumerate(chunk):
            row = {"text": text, "label": labels[int(idx[j, 0])], "score": float(p[j, 0]),
                   "top": [(labels[int(i)], float(q)) for q, i in zip(p[j], idx[j])]}
            if explain:
                row.update(tokens=shown[j], weights=_token_weights(out["weights"], j, len(shown[j])))
            results.append(row)
    return results


def _token_weights(weights, j: int, n: int) -> list[float] | None:
    if weights is None:
        return None
    w = weights[j].float().cpu()
    w = w.mean(0) if w.dim() == 2 else w  # several heads: their average
    return [float(x) for x in w[:n]]
