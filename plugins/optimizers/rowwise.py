"""Row-wise updates for sparse-gradient tables, and lazy SGD for sparse + dense parameters.

Post: "PyTorch - Combining Dense And Sparse Gradients"
Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015 (its lazy form,
torch.optim.SparseAdam); Robbins & Monro, "A Stochastic Approximation Method", 1951 (SGD)

An embedding's sparse gradient names whole rows. When it is coalesced (each row once, as the
``hash`` embedder's ``RowGather`` delivers it, or after one ``coalesce()``), an update is one
gather of the state at those rows, the arithmetic on a (rows, dim) block, and one scatter:

    lazy Adam (torch.optim.SparseAdam):  m_r = b1 m_r + (1-b1) g_r;  v_r = b2 v_r + (1-b2) g_r²
                                         p_r -= lr sqrt(1-b2^t)/(1-b1^t) · m_r / (sqrt(v_r) + eps)
    SGD (torch.optim.SGD, sparse):        p_r -= lr g_r

for the touched rows r only (moments of other rows untouched). tests/test_optimizers.py
checks both against torch's optimizers step by step. ``sparse_sgd`` applies SGD to every
parameter: row-wise for sparse gradients, torch's SGD rule (momentum, L2 decay) for dense ones.
Contract: sparse_sgd(cfg)(named_parameters) -> torch.optim.Optimizer.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .groups import EagerOptimizer, closure_loss, param_groups


def rows_of(grad: Tensor) -> tuple[Tensor, Tensor] | None:
    """(rows, values) of a row-sparse gradient, coalesced (no copy when it already is);
    None when it holds no rows."""
    grad = grad.coalesce()
    if grad._values().numel() == 0:
        return None
    return grad._indices()[0], grad._values()


def adam_rows_(p: Tensor, rows: Tensor, g: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step_size: float,
               beta1: float, beta2: float, eps: float) -> None:
    """Lazy Adam on rows ``rows`` (unique) of ``p``, in place; ``step_size = lr sqrt(bc2) / bc1``.
    torch's SparseAdam arithmetic (moment updates added to the old moments), with the state
    gathered once and the three updates scattered back by ``scatter_add_`` (on CPU several times
    faster than ``index_add_``/``index_copy_`` for a few thousand rows of a large table)."""
    old_m, old_v = exp_avg.index_select(0, rows), exp_avg_sq.index_select(0, rows)
    dm = g.sub(old_m).mul_(1 - beta1)
    dv = g.pow(2).sub_(old_v).mul_(1 - beta2)
    where = rows.unsqueeze(1).expand_as(g)
    exp_avg.scatter_add_(0, where, dm)
    exp_avg_sq.scatter_add_(0, where, dv)
    numer, denom = dm.add_(old_m), dv.add_(old_v).sqrt_().add_(eps)
    p.scatter_add_(0, where, numer.div_(denom).mul_(-step_size))


def adagrad_rows_(p: Tensor, rows: Tensor, g: Tensor, row_sum: Tensor, lr: float, eps: float) -> None:
    """Row-wise AdaGrad on rows ``rows`` (unique) of ``p``, in place: one accumulator per row,
    ``G_r += mean_j g_rj²``, then ``p_r -= lr · g_r / (sqrt(G_r) + eps)`` (torchrec's
    RowWiseAdagrad, FBGEMM's EXACT_ROWWISE_ADAGRAD). With one column it is torch.optim.Adagrad.
    The state is a (rows,) vector, so the update reads and writes the table once (lazy Adam:
    two moment tables gathered and three tables scattered)."""
    total = row_sum.index_select(0, rows).add_(torch.linalg.vector_norm(g, dim=1).square_().div_(g.shape[1]))
    row_sum.index_copy_(0, rows, total)
    p.index_add_(0, rows, g * total.sqrt_().add_(eps).reciprocal_().mul_(-lr).unsqueeze(1))


def sgd_rows_(p: Tensor, rows: Tensor, g: Tensor, lr: float) -> None:
    """SGD on rows ``rows`` (unique) of ``p``, in place (``alpha``: torch's rounding, p + (-lr)·g fused)."""
    p.index_add_(0, rows, g, alpha=-lr)


class SparseDenseSGD(EagerOptimizer):
    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"SparseDenseSGD: need lr > 0 and 0 <= momentum < 1 (got {lr}, {momentum})")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    if p.grad.sparse_dim() != 1:
                        p.add_(p.grad, alpha=-lr)
                    elif (found := rows_of(p.grad)) is not None:
                        sgd_rows_(p, *found, lr)
                    continue
                grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                if momentum:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grad.clone()
                    else:
                        state["momentum_buffer"].mul_(momentum).add_(grad)
                    grad = state["momentum_buffer"]
                p.add_(grad, alpha=-lr)
        return loss


def sparse_sgd(cfg):
    def build(named_params):
        return SparseDenseSGD(param_groups(named_params, cfg.weight_decay, cfg.no_decay), lr=cfg.lr,
                              momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    return build
