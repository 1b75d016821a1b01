"""Gradients, dense and sparse: the global norm, clipping, and the embedder parameters that
take sparse gradients (``embed.sparse=true``)."""
from __future__ import annotations

import torch
from torch import nn


def sparse_gradient_params(model: nn.Module) -> dict[str, nn.Parameter]:
    """The trainable parameters of an embedder that takes sparse gradients, by their names in ``model``."""
    embed = getattr(model, "embed", None)
    if embed is None or not getattr(embed, "sparse", False):
        return {}
    return {f"embed.{n}": p for n, p in embed.named_parameters() if p.requires_grad}


def coalesce_sparse_grads(params) -> None:
    """Replace each sparse gradient by its coalesced form (duplicate rows summed), so the
    later readers (clipping, the gradient-norm log, the optimizer) do not each coalesce it."""
    for p in params:
        if p.grad is not None and p.grad.is_sparse and not p.grad.is_coalesced():
            p.grad = _flag_or_coalesce(p.grad)


def _flag_or_coalesce(grad: torch.Tensor) -> torch.Tensor:
    """A sparse tensor whose (one-dimensional) row indices already strictly increase, e.g. the
    gradient of ``RowGather`` (each row once, sorted; autograd drops its coalesced flag), is
    coalesced by definition: flag it (no sort, no copy of the values); else coalesce."""
    idx = grad._indices()
    if idx.shape[0] == 1 and (idx.shape[1] < 2 or bool((idx[0, 1:] > idx[0, :-1]).all())):
        return torch.sparse_coo_tensor(idx, grad._values(), grad.shape, is_coalesced=True, check_invariants=False)
    return grad.coalesce()


def total_grad_norm(model: nn.Module) -> float:
    """The global L2 norm of all gradients; a sparse gradient counts through its stored
    values (coalesced, so duplicate rows are summed first), which ``clip_grad_norm_`` cannot do."""
    norms = []
    for p in model.parameters():
        if p.grad is None:
            continue
        g = p.grad.coalesce().values() if p.grad.is_sparse else p.grad
        norms.append(torch.linalg.vector_norm(g.detach().float()))
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


def clip_gradients(model: nn.Module, max_norm: float, total: float | None = None) -> float:
    """Scale every gradient, dense or sparse, so the global norm is at most ``max_norm``, as
    ``clip_grad_norm_`` does; ``total`` is that norm when already known. Returns it."""
    total = total_grad_norm(model) if total is None else total
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in model.parameters():
            if p.grad is not None:
                p.grad.mul_(scale)
    return total
