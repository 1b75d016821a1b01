"""Composition: a RunSpec -> the canonical "4 layers" network of the posts.

    emb = embedder(tokens) + position()            ("Token Interactions"); token_dropout hides tokens
    x = layer_norm(x + dropout(mixer(x, mask)))    for each mixer in the stack
    pooled, weights = pool(x, mask)                (e.g. a learned seed attending over x)
    logits = head(pooled)                          when the loss scores class logits
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from .errors import ZooError
from .positions import sinusoids
from .registry import Registry, get_registry
from .spec import ComponentSpec, ModelSpec, RunSpec, compose


def create(kind: str, name: str, registry: Registry | None = None, **config: Any):
    """A ready component: ``create("mixer", "lambda", dim=64, heads=4)``."""
    from .spec import resolve_component

    registry = registry or get_registry()
    dim = config.pop("dim", 64)
    spec, problems = resolve_component(kind, name, config, dim, registry, kind)
    if problems:
        raise ZooError(*problems)
    return instantiate(spec, registry)


def instantiate(spec: ComponentSpec, registry: Registry | None = None, pretrained: bool = True):
    """Build a component from a resolved spec (its config is validated again); with
    ``pretrained``, a component with a Hub ``source`` gets its weights from that commit."""
    registry = registry or get_registry()
    comp = registry.resolve(spec.kind, f"{spec.dist}:{spec.name}")
    cfg = comp.config.model_validate(spec.config)
    factory = comp.load_factory()
    obj = factory.from_config(cfg) if _has_from_config(factory) else factory(cfg)
    if pretrained and spec.source is not None:
        from .hub import load_component_weights

        load_component_weights(obj, spec)
    if getattr(cfg, "freeze", False) and isinstance(obj, nn.Module):
        for p in obj.parameters():
            p.requires_grad_(False)
    return obj


def _has_from_config(factory) -> bool:
    """True for a component class built by keyword arguments (``cls.from_config(cfg)``); False for
    a callable taking the config, and for a class whose constructor still takes ``cfg`` (it
    inherits ``from_config`` from the base classes but cannot use it)."""
    if not callable(getattr(factory, "from_config", None)):
        return False
    try:
        params = list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return True
    return params[:1] != ["cfg"]


class PositionalEncoding(nn.Module):
    """Sinusoidal (Vaswani et al.) or learned absolute positions, added after the embedder."""

    def __init__(self, kind: str, dim: int, max_len: int):
        super().__init__()
        self.kind, self.max_len = kind, max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        elif kind == "sinusoidal":
            self.register_buffer("table", sinusoids(max_len, dim), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "none":
            return x
        t = x.shape[1]
        if t > self.max_len:
            raise ZooError(f"sequence of {t} tokens is longer than max_len={self.max_len}; "
                           f"set max_len={t} or lower tokenizer.max_tokens")
        return x + self.table[:t]


class ZooModel(nn.Module):
    def __init__(self, spec: ModelSpec, embed, mixers: list, pool, loss):
        super().__init__()
        self.spec = spec
        self.embed = embed
        self.pos = PositionalEncoding(spec.pos, spec.dim, spec.max_len)
        self.mixers = nn.ModuleList(mixers)
        self.norms = nn.ModuleList(nn.LayerNorm(spec.dim) for _ in mixers)
        self.dropout = nn.Dropout(spec.dropout)
        self.pool = pool
        self.loss = loss
        self.head = nn.Linear(pool.out_dim, spec.num_classes) if getattr(loss, "needs_head", True) else None

    def encode(self, token_lists: list[list[str]]) -> dict[str, Tensor]:
        return self.embed.encode(token_lists)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor | None]:
        mask = inputs["mask"]
        if self.training and self.spec.token_dropout > 0:
            # word dropout (Iyyer et al., ACL 2015): hide whole tokens from every layer,
            # never all of a sequence's tokens
            dropped = mask & (torch.rand(mask.shape, device=mask.device) >= self.spec.token_dropout)
            mask = torch.where(dropped.any(1, keepdim=True), dropped, mask)
        keep = mask.unsqueeze(-1).to(dtype=torch.get_default_dtype())
        x = self.pos(self.embed(inputs)) * keep
        for mixer, norm in zip(self.mixers, self.norms):
            x = norm(x + self.dropout(mixer(x, mask))) * keep
        pooled, weights = self.pool(x, mask)
        logits = self.head(pooled) if self.head is not None else None
        return {"states": x, "mask": mask, "pooled": pooled, "weights": weights, "logits": logits}

    def predict(self, texts: list[str], top_k: int = 1, explain: bool = False) -> list[dict]:
        """Labels (and scores) for raw texts, tokenized exactly as in training."""
        from .predict import predict

        return predict(self, list(texts), top_k=top_k, explain=explain)

    def save(self, directory) -> None:
        """Write weights, config and a model card to ``directory``."""
        from .card import write_card
        from .checkpoint import save_model

        save_model(self, directory)
        write_card(directory, self)

    def parts(self) -> list[tuple[str, str, nn.Module, ComponentSpec]]:
        """(label, attribute, module, spec) for each component, in network order."""
        s = self.spec
        out = [("embed", "embed", self.embed, s.embed)]
        out += [(f"mixer.{i}" if len(s.mixer) > 1 else "mixer", f"mixers.{i}", m, ms)
                for i, (m, ms) in enumerate(zip(self.mixers, s.mixer))]
        out += [("pool", "pool", self.pool, s.pool), ("loss", "loss", self.loss, s.loss)]
        return out


def build_model(spec: ModelSpec, registry: Registry | None = None, seed: int | None = 0,
                pretrained: bool = True) -> ZooModel:
    """``pretrained=False`` skips Hub weights (a checkpoint being loaded brings its own)."""
    registry = registry or get_registry()
    if seed is not None:
        torch.manual_seed(seed)
    embed = instantiate(spec.embed, registry, pretrained)
    mixers = [instantiate(m, registry, pretrained) for m in spec.mixer]
    pool = instantiate(spec.pool, registry, pretrained)
    loss = instantiate(spec.loss, registry, pretrained)
    return ZooModel(spec, embed, mixers, pool, loss)


def build(overrides: list[str] | tuple[str, ...] = (), registry: Registry | None = None) -> ZooModel:
    """The composed model from the same ``key=value`` strings the CLI takes."""
    run = compose(overrides, registry)
    model = build_model(run.model, registry, seed=run.seed)
    model.run_spec = run
    return model


def build_optimizer(model: nn.Module, spec: ComponentSpec, lr: float | None = None,
                    registry: Registry | None = None) -> torch.optim.Optimizer:
    registry = registry or get_registry()
    config = dict(spec.config)
    if lr is not None:
        config["lr"] = lr
    maker = instantiate(spec.model_copy(update={"config": config}), registry)
    return maker(list(model.named_parameters()))


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(all, trainable) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable


def run_spec_of(model: ZooModel) -> RunSpec | None:
    return getattr(model, "run_spec", None)
