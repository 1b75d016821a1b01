"""The contract kit's checks for the ``head`` kind (the output layer); ``testing.py`` runs them.

- shapes: pooled (B, in_dim) -> finite scores (B, num_classes);
- rows: each example's scores depend on its own pooled vector only (changing one row of
  the batch by a large amount moves no other row's scores);
- learning: a head trained by gradients gets a gradient on every trainable parameter; a head
  that declares ``local_rule = True`` learns by its own rule without any gradient: after
  ``update`` and ``refit`` on separable data, under ``torch.no_grad()``, its scores change and
  it classifies that data better than chance; its ``probe`` (if any) maps in_dim to classes;
- state: its state_dict (what model.safetensors stores) rebuilds the same scores in a fresh
  head built from the same config.
"""
from __future__ import annotations

from typing import Callable

import torch

NUM_CLASSES, BATCH = 4, 8


def _data(dim: int, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable data: class c's vectors lie around a random direction."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(NUM_CLASSES, dim, generator=g) * 3
    y = torch.arange(n) % NUM_CLASSES
    return centres[y] + torch.randn(n, dim, generator=g) * 0.5, y


def check_head(obj, dim: int, rebuild: Callable[[], object]) -> list[tuple[str, Callable]]:
    local = bool(getattr(obj, "local_rule", False))

    def shapes():
        scores = obj(torch.randn(BATCH, dim))
        if tuple(scores.shape) != (BATCH, NUM_CLASSES) or not torch.isfinite(scores).all():
            return False, f"expected finite scores of shape {(BATCH, NUM_CLASSES)}, got {tuple(scores.shape)}"
        return True, ""

    def rows():
        if local:
            _teach(obj, dim)
        x = torch.randn(BATCH, dim)
        before = obj(x).detach()
        x2 = x.clone()
        x2[0] = x2[0] * 1e3 + 5
        after = obj(x2).detach()
        err = (after[1:] - before[1:]).abs().max().item()
        return err < 1e-4, f"changing example 0 moved another example's scores by {err:.2e}"

    def learning():
        if not local:
            x = torch.randn(BATCH, dim, requires_grad=True)
            obj(x).pow(2).sum().backward()
            dead = [n for n, p in obj.named_parameters()
                    if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
            ok = not dead and x.grad is not None
            return ok, "" if ok else f"no gradient reached: {', '.join(dead[:6]) or 'the input'}"
        head = rebuild()  # untaught
        x, y = _data(dim)
        before = head(x).detach().clone()
        _teach(head, dim)
        scores = head(x)
        acc = (scores.argmax(-1) == y).float().mean().item()
        probe = getattr(head, "probe", None)
        if probe is not None and tuple(probe(x).shape) != (len(x), NUM_CLASSES):
            return False, "its probe does not map in_dim to the classes"
        moved = not torch.allclose(before, scores.detach())
        return moved and acc > 1.5 / NUM_CLASSES, f"after update+refit without gradients: accuracy {acc:.2f}, " \
                                                  f"scores {'changed' if moved else 'unchanged'}"

    def state():
        if local:
            _teach(obj, dim)
        fresh = rebuild()
        fresh.load_state_dict(obj.state_dict())
        x = torch.randn(BATCH, dim)
        err = (fresh(x) - obj(x)).abs().max().item()
        return err < 1e-5, f"a head rebuilt from its state_dict scores differently by {err:.2e}"

    return [("shapes", shapes), ("rows", rows), ("learning", learning), ("state_dict", state)]


def _teach(obj, dim: int) -> None:
    x, y = _data(dim)
    with torch.no_grad():
        for start in range(0, len(x), BATCH):
            obj.update(x[start:start + BATCH], y[start:start + BATCH])
        obj.refit(x, y)
