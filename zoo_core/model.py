"""The composed model: the canonical "4 layers" network of the posts, with its identity.

    emb = embedder(tokens) + position()            ("Token Interactions"); token_dropout hides tokens
    x = layer_norm(x + dropout(mixer(x, mask)))    for each mixer in the stack
    pooled, weights = pool(x, mask)                (e.g. a learned seed attending over x)
    logits = head(pooled)                          the output layer (head=linear, centroid, ...),
                                                   when the loss scores class logits

A ZooModel knows its run spec, labels and (when pulled) its Hub source from construction.
One save path, in huggingface_hub's ModelHubMixin shape with zoo's strict, pickle-free
loading: ``save_pretrained`` always writes weights, config.json and the model card;
``from_pretrained`` takes a folder or ``hf:ORG/NAME[@REV]``; ``push_to_hub`` uploads.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import atomic, checkpoint, factory, hub
from .bag import BAG_KEY, bag_forward
from .errors import ZooError
from .positions import sinusoids
from .refs import is_hub_text, parse_hub
from .registry import Registry
from .runspec import DEFAULT_HEAD, RunSpec


class PositionalEncoding(nn.Module):
    """Sinusoidal or learned absolute positions, added after the embedder."""

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


def real_first_order(mask: Tensor) -> Tensor:
    """(B, T) positions: each row's real tokens first, in order, then its padding in order (a
    stable sort of ~mask), from cumulative sums and one scatter: no sort, so ONNX exports it."""
    real = mask.long()
    rank = torch.where(mask, real.cumsum(1) - 1, (1 - real).cumsum(1) - 1 + real.sum(1, keepdim=True))
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(rank)
    return torch.empty_like(rank).scatter_(1, rank, positions)


def tracing() -> bool:
    """Inside torch.jit.trace or torch.export/compile: data-dependent shortcuts and Python
    autograd.Functions stay out of such graphs (the mixers' helpers use it too)."""
    compiler = getattr(torch, "compiler", None)
    return (torch.jit.is_tracing()
            or bool(compiler and getattr(compiler, "is_compiling", lambda: False)())
            or bool(compiler and getattr(compiler, "is_exporting", lambda: False)()))


def call_right_padded(module: nn.Module, x: Tensor, mask: Tensor):
    """``module(x, mask)``; a mixer or pooler that declares ``needs_right_padding`` gets each
    sequence's real tokens moved to the front first (token dropout leaves holes in the mask)
    and its per-token outputs moved back after. Right-padded batches are passed as they are."""
    if not getattr(module, "needs_right_padding", False):
        return module(x, mask)
    lengths = mask.sum(1, keepdim=True)
    right = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0) < lengths
    if not tracing() and torch.equal(mask, right):  # a data-dependent shortcut a traced graph cannot hold
        return module(x, mask)
    order = real_first_order(mask)

    def back(y: Tensor) -> Tensor:  # (B, T, ...) per-token outputs to the original positions
        return torch.empty_like(y).scatter_(1, order.view(*order.shape, *([1] * (y.dim() - 2))).expand_as(y), y)

    out = module(x.gather(1, order.unsqueeze(-1).expand_as(x)), right)
    if isinstance(out, tuple):  # a pooler: (pooled, weights (B, T) or (B, H, T) | None)
        pooled, weights = out
        if weights is not None and weights.dim() == 3:  # (B, H, T): tokens on the last axis
            weights = back(weights.transpose(1, 2)).transpose(1, 2)
        elif weights is not None:
            weights = back(weights)
        return pooled, weights
    return back(out)


class ZooModel(nn.Module):
    def __init__(self, run: RunSpec, embed, mixers: list, pool, loss, *, labels: list[str] | None = None,
                 source: dict | None = None, head: nn.Module | None = None, registry: Registry | None = None):
        super().__init__()
        self.run, self.spec = run, run.model
        self.labels = list(labels) if labels is not None else None
        self.hub_source = source  # {"repo", "revision", "sha"} when pulled from the Hub
        spec = run.model
        self.embed = embed
        self.pos = PositionalEncoding(spec.pos, spec.dim, spec.max_len)
        self.mixers = nn.ModuleList(mixers)
        self.norms = nn.ModuleList(nn.LayerNorm(spec.dim) for _ in mixers)
        self.dropout = nn.Dropout(spec.dropout)
        self.pool = pool
        self.loss = loss
        if any(hasattr(m, "step_states") for m in mixers[:-1]):
            raise ZooError("mixer=ponder must be the last mixer of the stack (its steps' states go to the pooler); "
                           "move it to the end, e.g. mixer=[lambda,ponder]")
        if head is None and getattr(loss, "needs_head", True):
            head = build_head(run, pool.out_dim, registry)
        pulled = getattr(head, "source_labels", None)  # head=hf:ORG/NAME#head: the labels it scores
        if pulled is not None and self.labels is not None and pulled != self.labels:
            raise ZooError(f"head={spec.head.source.repo}#head scores the labels {pulled[:5]}, this model's are "
                           f"{self.labels[:5]}; a pretrained head fits only data with the same labels")
        self.head = head

    @property
    def run_spec(self) -> RunSpec:
        return self.run

    def encode(self, token_lists: list[list[str]]) -> dict[str, Tensor]:
        return self.embed.encode(token_lists)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor | None]:
        if BAG_KEY in inputs:  # flat token codes with offsets: the EmbeddingBag path (bag.py)
            return bag_forward(self, inputs)
        mask = inputs["mask"]
        if self.training and self.spec.token_dropout > 0:
            # word dropout (Iyyer et al., ACL 2015): hide whole tokens from every layer,
            # never all of a sequence's tokens
            dropped = mask & (torch.rand(mask.shape, device=mask.device) >= self.spec.token_dropout)
            mask = torch.where(dropped.any(1, keepdim=True), dropped, mask)
        keep = mask.unsqueeze(-1).to(dtype=torch.get_default_dtype())
        x = self.pos(self.embed(inputs)) * keep
        steps = None
        for mixer, norm in zip(self.mixers, self.norms):
            y = call_right_padded(mixer, x, mask)
            if hasattr(mixer, "step_states"):  # mixer=ponder: every step's state, as this layer would output it
                steps = (mixer, [norm(x + self.dropout(s)) * keep for s in mixer.step_states])
            x = norm(x + self.dropout(y)) * keep
        pooled, weights = call_right_padded(self.pool, x, mask)
        out = {"states": x, "mask": mask, "pooled": pooled, "weights": weights, "logits": None}
        if steps is not None:
            out.update(self._step_outputs(*steps, mask))
        out.update(self.head_outputs(pooled))
        return out

    def head_outputs(self, pooled: Tensor) -> dict[str, Tensor | None]:
        """``logits``; a head that learns by its own rule sees ``pooled.detach()`` (no gradient
        through it) and adds its linear probe's ``probe_logits`` (None without a probe), the
        logits the loss trains the features through. Both forward paths (padded, bag) use it."""
        if getattr(self.head, "local_rule", False):
            probe = getattr(self.head, "probe", None)
            return {"logits": self.head(pooled.detach()), "probe_logits": probe(pooled) if probe is not None else None}
        return {"logits": self.head(pooled) if self.head is not None else None}

    def _step_outputs(self, stepper, states: list[Tensor], mask: Tensor) -> dict:
        """A mixer that ponders (``step_states``): each sequence's halting step as ``steps``
        and, in training, every step's prediction through the pooler and head."""
        out = {"steps": stepper.halt_step.float() + 1}
        if self.training and self.head is not None:
            out["step_logits"] = torch.stack([self.head(call_right_padded(self.pool, s, mask)[0]) for s in states], 1)
            out["halting"] = stepper.halting
        return out

    def objective(self, outputs: dict, target: Tensor) -> Tensor:
        """The training loss of a batch: the loss component on the head's logits, or, for a
        head that learns by its own rule, on its linear probe's logits (no probe: the features
        do not train, and the loss, for the log only, carries no gradient)."""
        if "step_logits" in outputs:  # a mixer that ponders has its own objective over every step
            stepper = next(m for m in self.mixers if hasattr(m, "objective"))
            return stepper.objective(outputs, target, self.loss)
        if "probe_logits" in outputs:
            if outputs["probe_logits"] is None:
                return self.loss(outputs, target).detach()
            outputs = {**outputs, "logits": outputs["probe_logits"]}
        return self.loss(outputs, target)

    def predict(self, texts: list[str], top_k: int = 1, explain: bool = False) -> list[dict]:
        """Labels (and scores) for raw texts, tokenized exactly as in training."""
        from .inference import predict

        return predict(self, list(texts), top_k=top_k, explain=explain)

    def parts(self) -> list[tuple[str, str, nn.Module, Any]]:
        """(label, attribute, module, spec) for each component with weights, in network order."""
        modules = {"embed": self.embed, "pool": self.pool, "loss": self.loss, "head": self.head}
        out, i = [], 0
        for label, spec in self.spec.labelled():
            if spec.kind == "mixer":
                out.append((label, f"mixers.{i}", self.mixers[i], spec))
                i += 1
            elif modules.get(spec.kind) is not None:
                out.append((label, spec.kind, modules[spec.kind], spec))
        return out

    # ---- saving, loading, sharing ---------------------------------------------------
    def save_pretrained(self, directory: str | Path, *, extra: dict | None = None, state_dict: dict | None = None,
                        **card: Any) -> Path:
        """Write ``model.safetensors`` (``state_dict``, default this model's), ``config.json`` and the
        model card ``README.md``; ``card`` goes to ``card.render_card`` (splits, result, device, command, license)."""
        from .card import write_card

        config = {"spec": self.run.model_dump(mode="json"), "labels": self.labels,
                  "embed_state": self.embed.state_json(), "requirements": checkpoint.requirements_of(self.run),
                  **(extra or {})}
        components = {label: f"{spec.kind}:{spec.name}" for label, _, _, spec in self.parts()}
        with atomic.generation(directory) as staging:  # the three files land together (atomic.py)
            checkpoint.write_checkpoint(staging, self.state_dict() if state_dict is None else state_dict, config,
                                        components)
            write_card(staging, self, **card)
        return Path(directory)

    save = save_pretrained

    @classmethod
    def from_pretrained(cls, ref: str | Path, registry: Registry | None = None) -> "ZooModel":
        """A saved model from a folder or ``hf:ORG/NAME[@REV]``, loaded strictly (sha256, every
        tensor, plugin requirements); raises ZooError naming the fix for anything off."""
        source = None
        if is_hub_text(str(ref)):
            hub_ref = parse_hub(str(ref)[3:], allow_part=False)
            snap = hub.download(hub_ref)
            ref, source = snap.path, {"repo": hub_ref.repo, "revision": hub_ref.revision or "main", "sha": snap.sha}
        directory = Path(ref)
        config = checkpoint.read_config(directory)
        run = _saved_run(config, directory)
        checkpoint.check_requirements(sorted(set(config.get("requirements", []))
                                             | {s.requirement for c in run.model.components() for s in c.walk()}))
        model = build_model(run, labels=config.get("labels"), registry=registry, seed=None, pretrained=False,
                            source=source)
        _check_labels(model, directory)
        model.embed.load_state_json(config.get("embed_state") or {})
        tensors = checkpoint.read_weights(directory, config)
        checkpoint.load_weights_strict(model, tensors, str(directory / checkpoint.WEIGHTS_FILE))
        return model.eval()

    def push_to_hub(self, repo: str, **kwargs: Any):
        """Save to a temporary folder and upload it (see ``push_folder``)."""
        with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
            self.save_pretrained(tmp)
            return push_folder(tmp, repo, **kwargs)


def _saved_run(config: dict, directory: Path) -> RunSpec:
    try:
        return RunSpec.model_validate(config["spec"])
    except Exception as e:
        first = str(e).strip().splitlines()[0]
        raise ZooError(f"{directory / checkpoint.CONFIG_FILE}: invalid spec ({first}); re-save the model with "
                       f"this zoo version") from None


def _check_labels(model: ZooModel, directory: Path) -> None:
    labels, head = model.labels, model.head
    if labels is None or head is None:
        return
    # nn.Linear's out_features, or a head of its own (centroid, kernel_knn, gated_linear: num_classes)
    outputs = getattr(head, "num_classes", None) or getattr(head, "out_features", None)
    if outputs is None:
        return
    if not isinstance(labels, list) or len(labels) != outputs:
        raise ZooError(f"{directory / checkpoint.CONFIG_FILE}: 'labels' must list {outputs} label names, one "
                       f"per output of the model, got {len(labels)}; the config was edited or damaged — re-save or "
                       f"re-download the model")


def push_folder(folder: str | Path, repo: str, *, revision: str | None = None, private: bool = False,
                message: str | None = None):
    """Upload a saved model folder's checkpoint files in one commit, after proving it loads."""
    folder = Path(folder)
    config = checkpoint.read_config(folder)
    if config.get("weights", {}).get("file", checkpoint.WEIGHTS_FILE) != checkpoint.WEIGHTS_FILE:
        raise ZooError(f"{folder / checkpoint.CONFIG_FILE}: weights must be in {checkpoint.WEIGHTS_FILE}; "
                       f"re-save the model with zoo")
    ZooModel.from_pretrained(folder)
    files = [name for name in hub.PUSH_FILES if (folder / name).is_file()]
    ref = parse_hub(repo[3:] if is_hub_text(repo) else repo, allow_part=False)
    return hub.upload(folder, files, ref, revision=revision, private=private, message=message)


def build_model(run: RunSpec, *, labels: list[str] | None = None, registry: Registry | None = None,
                seed: int | None = 0, pretrained: bool = True, source: dict | None = None) -> ZooModel:
    """Build every component of ``run`` and compose them. ``pretrained=False`` skips Hub
    weights (a checkpoint being loaded brings its own)."""
    if seed is not None:
        torch.manual_seed(seed)
    spec = run.model

    def make(s):
        return factory.build(s, pretrained=pretrained, registry=registry)

    return ZooModel(run, make(spec.embed), [make(m) for m in spec.mixer], make(spec.pool), make(spec.loss),
                    labels=labels, source=source, registry=registry)


def build_head(run: RunSpec, in_dim: int, registry: Registry | None = None) -> nn.Module:
    """The output layer ``run`` names, over ``in_dim`` pooled features; a run saved before heads
    were a component kind names none and gets ``head=linear`` (its weights ``head.weight``,
    ``head.bias`` load unchanged)."""
    spec = run.model.head or factory.resolve("head", DEFAULT_HEAD, registry=registry)
    return factory.build(spec, registry=registry, context={"in_dim": in_dim, "num_classes": run.model.num_classes})


def build(overrides: list[str] | tuple[str, ...] = (), registry: Registry | None = None) -> ZooModel:
    """The composed (untrained) model from the same ``key=value`` strings the CLI takes."""
    from .overrides import compose

    run = compose(overrides, registry)
    return build_model(run, registry=registry, seed=run.seed)


def build_optimizer(model: nn.Module, spec, lr: float | None = None,
                    registry: Registry | None = None) -> torch.optim.Optimizer:
    """The optimizer component ``spec`` over ``model``'s parameters; ``lr`` (``train.lr``) wins
    over the component's own."""
    if lr is not None:
        spec = spec.model_copy(update={"config": {**spec.config, "lr": lr}})
        spec._validated = None  # validated again, with the new lr, when built
    return factory.build(spec, registry=registry)(list(model.named_parameters()))


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(all, trainable) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable
