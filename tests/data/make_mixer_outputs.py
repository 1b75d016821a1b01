"""Writes mixer_outputs.safetensors: outputs and gradients of the linear-time mixers as
implemented at commit dc0739d (before issue 15's memory-traffic work), so that faster
rewrites are checked against what the code computed before (tests/test_mixers.py,
test_mixers_match_their_saved_outputs). Run from the repository root:

    .venv/bin/python tests/data/make_mixer_outputs.py

Only rerun it on purpose, when a method's outputs are meant to change.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

import zoo_core

VARIANTS = [
    ("linear_attention", {}), ("linear_attention", {"causal": True}),
    ("performer", {}), ("performer", {"causal": True}),
    ("fastformer", {}), ("fnet", {}),
    ("hypermixer", {}), ("hypermixer", {"tied": True}), ("hypermixer", {"positions": False}),
    ("lambda", {}), ("lambda", {"causal": True}), ("lambda", {"normalize": "kernel"}),
    ("lambda", {"normalize": "kernel", "causal": True}),
    ("lambda", {"position_lambda": True, "window": 2}),
    ("lambda", {"position_lambda": True, "window": 2, "causal": True}),
]
B, T, D = 3, 80, 16


def key(name: str, cfg: dict) -> str:
    return name + "".join(f",{k}={v}" for k, v in sorted(cfg.items()))


def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(15)
    pos = torch.arange(T)
    padded = torch.stack([pos < T, pos < 50, pos >= T - 45])  # full, right-padded, left-padded
    return {"x": torch.randn(B, T, D, generator=g) * 2, "weight": torch.randn(B, T, D, generator=g),
            "mask_padded": padded, "mask_full": torch.ones(B, T, dtype=torch.bool)}


def run(mixer, x: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor) -> dict[str, torch.Tensor]:
    """Output, d(Σ weight·output)/dx and the parameters' gradients, in training mode."""
    mixer.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    y = mixer(xg, mask)
    (y * weight * mask.unsqueeze(-1)).sum().backward()
    out = {"y": (y * mask.unsqueeze(-1)).detach(), "dx": xg.grad}
    out.update({f"d.{n}": p.grad for n, p in mixer.named_parameters() if p.grad is not None})
    return out


def main() -> None:
    data = inputs()
    tensors = dict(data)
    for name, cfg in VARIANTS:
        torch.manual_seed(0)
        mixer = zoo_core.create("mixer", name, dim=D, **cfg).train()
        k = key(name, cfg)
        tensors.update({f"{k}/state.{n}": t.detach().clone() for n, t in mixer.state_dict().items()})
        for which in ("padded", "full"):
            for n, t in run(mixer, data["x"], data[f"mask_{which}"], data["weight"]).items():
                tensors[f"{k}/{which}.{n}"] = t.contiguous()
    save_file(tensors, str(Path(__file__).with_name("mixer_outputs.safetensors")))


if __name__ == "__main__":
    main()
