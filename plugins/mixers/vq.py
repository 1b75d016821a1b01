"""Vector quantiser: each token state is replaced by its nearest codebook vector.

Post: "Vector Quantization: Avoiding Codebook Collapse" (dead codes never get updates; random
restarts fixed it).
Paper: Dhariwal et al., "Jukebox", arXiv:2005.00341, section 3.1 (random restarts for
embeddings; EMA codebook, commitment weight 0.02) and its reference code
(jukebox/vqvae/bottleneck.py, ``BottleneckBlock``); van den Oord et al., "Neural Discrete
Representation Learning" (VQ-VAE, arXiv:1711.00937: straight-through estimator, commitment loss).

    k_t   = argmin_k |x_t - e_k|²
    out_t = x_t + sg(e_k - x_t)                          forward: e_k; backward: identity
    aux   = beta * mean |x_t - sg(e_k)|²                  commitment, over real tokens
    training: n_k <- mu n_k + (1-mu) count_k;  s_k <- mu s_k + (1-mu) sum of x assigned to k
              e_k = s_k / n_k where n_k >= threshold, else r_k
    r = the first ``codes`` rows of a random permutation of the batch's real token states
        (the batch tiled, with noise of std 0.01/sqrt(D), when it has fewer tokens than codes)

As in bottleneck.py (``init_k``/``restore_k``) the statistics start at n_k = 1 and s_k = e_k,
so a code is dead only once its EMA count decays below the threshold without use: a code in
use from the start is never restarted (with n_k = 0 every code with fewer than ~100 uses in
its first batches counted as dead and was restarted). After setting the codebook by hand,
call ``reset_statistics()`` (Jukebox's ``restore_k``). Restarted codes are distinct
tokens of the batch (a permutation, not draws with replacement), and their statistics
restart with them by the same rule (count one, sum the new code): bottleneck.py keeps a
dead code's stale statistics, which its large batches soon outweigh, but with the few tokens
per code of a small text batch they pulled a restarted code back to where it had died.

The codebook is learned by the EMA (buffers, no gradient), so only the commitment term
needs to reach training: it is stored as ``self.aux_loss`` at every forward and the tasks
of zoo_core/tasks.py add every module's ``aux_loss`` to the task loss. Padding is never
assigned, counted or restarted from. ``codebook_usage()`` reports the share of codes used
recently (EMA count >= threshold), the perplexity of the usage distribution and the number
of restarts so far.
Shape contract: (B, T, D), mask -> (B, T, D) (each real position a codebook vector).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .configs import VQConfig


class VQMixer(Mixer):
    def __init__(self, dim: int, codes: int = 64, beta: float = 0.02, decay: float = 0.99, threshold: float = 1.0,
                 restart: bool = True):
        super().__init__()
        self.dim, self.codes, self.beta, self.decay = dim, codes, beta, decay
        self.threshold, self.restart = threshold, restart
        self.register_buffer("codebook", torch.randn(codes, dim))
        self.register_buffer("ema_count", torch.ones(codes))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))
        self.register_buffer("batch_count", torch.zeros(codes), persistent=False)  # uses in the last batch
        self.aux_loss: Tensor | None = None

    @classmethod
    def from_config(cls, cfg: VQConfig) -> "VQMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    @torch.no_grad()
    def reset_statistics(self) -> None:
        """EMA statistics for the current codebook: counts 1, sums the codes (Jukebox restore_k)."""
        self.ema_count.fill_(1.0)
        self.ema_sum.copy_(self.codebook)

    def assign(self, flat: Tensor) -> Tensor:
        d = flat.pow(2).sum(-1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(-1)
        return d.argmin(-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, t, d = x.shape
        codes = self.assign(x.reshape(-1, d).detach()).view(b, t)
        q = self.codebook[codes]
        real = x[mask]
        self.aux_loss = self.beta * F.mse_loss(real, q[mask].detach()) if real.numel() else x.sum() * 0
        if self.training:
            self._update(real.detach(), codes[mask])
        return x + (q - x).detach()

    def _random_tokens(self, flat: Tensor) -> Tensor:
        """``codes`` distinct rows of a random permutation of the batch (bottleneck.py ``_tile``)."""
        n, d = flat.shape
        if n < self.codes:
            flat = flat.repeat((self.codes + n - 1) // n, 1)
            flat = flat + torch.randn_like(flat) * (0.01 / d ** 0.5)
        return flat[torch.randperm(len(flat), device=flat.device)[: self.codes]]

    @torch.no_grad()
    def _update(self, flat: Tensor, codes: Tensor) -> None:
        mu = self.decay
        onehot = F.one_hot(codes, self.codes).to(flat.dtype)
        self.batch_count.copy_(onehot.sum(0))
        self.ema_count.mul_(mu).add_(self.batch_count, alpha=1 - mu)
        self.ema_sum.mul_(mu).add_(onehot.t() @ flat, alpha=1 - mu)
        used = self.ema_count >= self.threshold
        self.codebook[used] = self.ema_sum[used] / self.ema_count[used].unsqueeze(1)
        dead = (~used).nonzero().flatten()
        if self.restart and len(dead) and len(flat):
            self.codebook[dead] = self._random_tokens(flat)[dead]
            self.ema_count[dead] = 1.0  # a restarted code starts as every code does: count one, sum the code
            self.ema_sum[dead] = self.codebook[dead]
            self.restarts += len(dead)

    @torch.no_grad()
    def codebook_usage(self) -> dict[str, float]:
        """{"used": share of codes with EMA count >= threshold, "perplexity": exp(entropy of the
        code usage in the last training batch) (= codes when usage is uniform; Jukebox's entropy;
        the EMA counts before any training step), "restarts": dead codes restarted so far}."""
        counts = self.batch_count if self.batch_count.sum() > 0 else self.ema_count
        p = counts / counts.sum()
        entropy = torch.special.entr(p).sum()
        return {"used": float((self.ema_count >= self.threshold).float().mean()),
                "perplexity": float(entropy.exp()), "restarts": int(self.restarts)}
