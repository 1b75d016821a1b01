"""Running a model on text: predictions, explanations, class probabilities, pooled vectors,
and the classification evaluation. Eval mode, no gradients, input order kept."""
from __future__ import annotations

import torch
import numpy as np
from torch import nn

from .batches import TokenFeatures, featurize_texts
from .errors import ZooError
from .featurize import gc_paused
from .metrics import classification_report
from .tokenize import Tokenizer


def model_device(model) -> torch.device:
    """Where the model lives (a gradient-free model, e.g. recipe=hdc, may have buffers only)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def as_features(model, data):
    """Token lists, or features made by ``zoo_core.batches`` (which pass through)."""
    return data if hasattr(data, "encode") and hasattr(data, "lengths") else TokenFeatures(model, list(data))


@torch.no_grad()
def model_outputs(model, token_lists, key: str, batch_size: int = 256) -> list[torch.Tensor]:
    """``model(...)[key]`` for each text (token lists or ``zoo_core.batches`` features), in input
    order (batches of similar lengths)."""
    return list(_stacked_outputs(model, as_features(model, token_lists), key, batch_size))


@torch.no_grad()
def _stacked_outputs(model, features, key: str, batch_size: int) -> torch.Tensor:
    model.eval()
    device = model_device(model)
    # padded batches group similar lengths; bags have no padding, so input order (contiguous slices)
    order = np.arange(len(features)) if getattr(features, "bag", False) else np.argsort(features.lengths, kind="stable")
    out = None
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        inputs = {k: v.to(device) for k, v in features.encode(idx).items()}
        values = model(inputs)[key].float().cpu()
        if out is None:
            out = values.new_empty((len(order), *values.shape[1:]))
        out[torch.from_numpy(idx)] = values
    return out if out is not None else torch.zeros(0)


def class_probabilities(model, token_lists, batch_size: int = 256) -> torch.Tensor:
    """(N, C) softmax probabilities."""
    features = as_features(model, token_lists)
    if not len(features):
        return torch.zeros(0, model.spec.num_classes)
    return _stacked_outputs(model, features, "logits", batch_size).softmax(-1)


def pooled_vectors(model, token_lists, batch_size: int = 256) -> torch.Tensor:
    """(N, D) pooled vectors."""
    features = as_features(model, token_lists)
    if not len(features):
        return torch.zeros(0, model.pool.out_dim)
    return _stacked_outputs(model, features, "pooled", batch_size)


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
    if not explain:  # the fast path: featurised in whole arrays, the EmbeddingBag path for bag models
        features = featurize_texts(model, texts, dedup=False)
        bags = getattr(features, "bag", False)  # no padding: large batches cost nothing extra
        probs = class_probabilities(model, features, max(batch_size, 4096) if bags else batch_size)
        if top_k == 1 and len(texts):
            p, idx = probs.max(-1)
            return _rows(texts, labels, p.unsqueeze(-1).numpy(), idx.unsqueeze(-1).numpy())
        p, idx = probs.topk(top_k, dim=-1) if len(texts) else (probs, probs.long())
        return _rows(texts, labels, p.numpy(), idx.numpy())
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
            results.append({"text": text, "label": labels[int(idx[j, 0])], "score": float(p[j, 0]),
                            "top": [(labels[int(i)], float(q)) for q, i in zip(p[j], idx[j])],
                            "tokens": shown[j], "weights": _token_weights(out["weights"], j, len(shown[j]))})
    return results


def _rows(texts: list[str], labels: list[str], p, idx) -> list[dict]:
    """One result dict per text, made with the garbage collector paused (featurize.gc_paused)."""
    with gc_paused():
        if p.shape[1] == 1:  # one label each: no inner loop (a comprehension per text costs a frame)
            names = [labels[i] for i in idx[:, 0].tolist()]
            return [{"text": text, "label": name, "score": q, "top": [(name, q)]}
                    for text, name, q in zip(texts, names, p[:, 0].tolist())]
        tops = [list(zip(map(labels.__getitem__, i), q)) for q, i in zip(p.tolist(), idx.tolist())]
        return [{"text": text, "label": top[0][0], "score": top[0][1], "top": top} for text, top in zip(texts, tops)]


def _token_weights(weights, j: int, n: int) -> list[float] | None:
    if weights is None:
        return None
    w = weights[j].float().cpu()
    w = w.mean(0) if w.dim() == 2 else w  # several heads: their average
    return [float(x) for x in w[:n]]
