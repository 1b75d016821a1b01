"""One optimizer for sparse and dense gradients: SparseAdam's lazy update (or, with
``sparse_rule="rowwise_adagrad"``, row-wise AdaGrad) for parameters whose gradient is sparse
(the ``hash`` and ``full`` embedders with ``sparse=true``), Adam for the rest.

Post: "PyTorch - Combining Dense And Sparse Gradients"
Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015; its lazy form
torch.optim.SparseAdam. Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online
Learning and Stochastic Optimization", JMLR 2011 (AdaGrad), in the row-wise form of torchrec's
RowWiseAdagrad and FBGEMM's EXACT_ROWWISE_ADAGRAD (one accumulator per embedding row)

The post writes a MultipleOptimizer that figures out which layers give sparse gradients.
Here it is a single torch.optim.Optimizer, so the
LR scheduler, gradient clipping, ``state_dict``/``load_state_dict`` and the trainer's
resume work unchanged; the routing is decided per step by ``grad.is_sparse``, so nothing
must be known about the model up front. The two updates are torch's own algorithms
(tests compare them step by step with torch.optim.Adam and torch.optim.SparseAdam):

    dense:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)
    sparse: the same, only at the rows present in the gradient (moments of other rows untouched)
    sparse, sparse_rule="rowwise_adagrad": G_r += mean_j g_rj²;  p_r -= lr_s g_r / (sqrt(G_r) + eps)
            for the rows r present (rowwise.py), lr_s = lr * sparse_lr_scale

``weight_decay`` (L2) applies to dense parameters only.
Contract: sparse_dense(cfg)(named_parameters) -> torch.optim.Optimizer.
"""
from __future__ import annotations

import math

import torch

from .configs import SparseDenseConfig
from .groups import EagerOptimizer, closure_loss, param_groups
from .rowwise import adagrad_rows_, adam_rows_, rows_of

SPARSE_RULES = ("adam", "rowwise_adagrad")
ROWWISE_EPS = 1e-10  # torch.optim.Adagrad's and torchrec's default


class SparseDenseAdam(EagerOptimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 sparse_rule: str = "adam", sparse_lr_scale: float = 1.0):
        if lr <= 0 or eps <= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"SparseDenseAdam: need lr > 0, eps > 0, 0 <= betas < 1 (got {lr}, {eps}, {betas})")
        if sparse_rule not in SPARSE_RULES or sparse_lr_scale <= 0:
            raise ValueError(f"SparseDenseAdam: sparse_rule must be one of {SPARSE_RULES} and sparse_lr_scale > 0 "
                             f"(got {sparse_rule!r}, {sparse_lr_scale})")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      sparse_rule=sparse_rule, sparse_lr_scale=sparse_lr_scale))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse and group.get("sparse_rule", "adam") == "rowwise_adagrad":
                    self._rowwise_adagrad(p, group)
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
                if p.grad.is_sparse:
                    lr_rows = lr * group.get("sparse_lr_scale", 1.0)
                    self._sparse_update(p, p.grad, exp_avg, exp_avg_sq, lr_rows * math.sqrt(bc2) / bc1, beta1, beta2, eps)
                    continue
                grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / math.sqrt(bc2)).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-lr / bc1)
        return loss

    def _rowwise_adagrad(self, p, group):
        """Row-wise AdaGrad (rowwise.py) for a row-sparse gradient: one accumulator per row."""
        if p.grad.sparse_dim() != 1:
            raise ValueError("sparse_rule=rowwise_adagrad needs a row-sparse gradient (an embedding table's); "
                             "use sparse_rule=adam for element-sparse ones")
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["row_sum"] = p.new_zeros(p.shape[0])
        state["step"] += 1
        if (found := rows_of(p.grad)) is not None:
            adagrad_rows_(p, *found, state["row_sum"], group["lr"] * group.get("sparse_lr_scale", 1.0), ROWWISE_EPS)

    @staticmethod
    def _sparse_update(p, grad, exp_avg, exp_avg_sq, step_size, beta1, beta2, eps):
        """torch.optim.SparseAdam's update (torch/optim/_functional.py sparse_adam): the moments
        and the parameter change only at the rows present in the gradient."""
        grad = grad.coalesce()
        indices, values = grad._indices(), grad._values()
        if values.numel() == 0:
            return
        if grad.sparse_dim() == 1:
            # an embedding's gradient (whole rows): gather the rows, update, scatter back
            # (rowwise.py), without building sparse tensors and masks a step
            adam_rows_(p, indices[0], values, exp_avg, exp_avg_sq, step_size, beta1, beta2, eps)
            return

        def make_sparse(v):
            return torch.sparse_coo_tensor(indices, v, grad.size(), check_invariants=False)

        old_m = exp_avg.sparse_mask(grad)._values()
        m_update = values.sub(old_m).mul_(1 - beta1)
        exp_avg.add_(make_sparse(m_update))
        old_v = exp_avg_sq.sparse_mask(grad)._values()
        v_update = values.pow(2).sub_(old_v).mul_(1 - beta2)
        exp_avg_sq.add_(make_sparse(v_update))
        numer = m_update.add_(old_m)
        denom = v_update.add_(old_v).sqrt_().add_(eps)
        p.add_(make_sparse(-step_size * numer.div_(denom)))


def sparse_dense(cfg: SparseDenseConfig):
    def build(named_params):
        return SparseDenseAdam(param_groups(named_params, cfg.weight_decay, cfg.no_decay), lr=cfg.lr,
                               betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, sparse_rule=cfg.sparse_rule,
                               sparse_lr_scale=cfg.sparse_lr_scale)

    return build
