"""The contract kit: checks any registered component against its kind's contract.

    from zoo_tools.testing import check_component, assert_contract
    results = check_component("mixer", "lambda", heads=2)     # list of CheckResult
    assert_contract("mixer", "my_plugin:fancy")               # raises AssertionError listing failures

zoo's own suite runs it over every registered component, so a component is tested the
moment it is registered; third-party plugins run the same kit in their tests (and
``zoo check``). The checks:

- embed: encode gives a bool mask matching the lengths and forward gives (B, T, dim);
  a sequence embeds the same alone as inside a padded batch; odd strings ("", emoji,
  mixed scripts) work;
- mixer: (B, T, D) in -> (B, T, D) out; changing padded positions changes no real output,
  with the padding on the right and on the left; the real outputs are the same whichever
  side the padding is on (checked with the parameters moved away from their init, which
  can hide a position tie); a mixer that declares ``causal = True`` is causal by VALUES:
  replacing the inputs after position t by large values (x1e3) moves no output at <= t
  (a gradient test misses a detached shift computed over the whole sequence);
- pool: (B, out_dim) out; padding changes nothing, on either side, and the side does not
  matter; weights, if returned, sum to 1 over real tokens and are 0 on padding;
- a mixer or pooler that declares ``needs_right_padding = True`` is checked with right
  padding only (the composer then moves real tokens to the front before calling it);
- head: scores (B, classes) per example; learns (gradients, or its own rule without any);
  its state_dict rebuilds it (``head_checks.py``);
- loss: a finite scalar whose gradient reaches the model outputs it uses;
- optim: a torch Optimizer that lowers a small regression loss; its state_dict round-trips;
- all modules: gradients reach every trainable parameter; the config round-trips through JSON.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable

import torch

from zoo_core import factory
from zoo_core.factory import create, resolve
from zoo_core.registry import get_registry, normalize_kind

from .head_checks import NUM_CLASSES, check_head

ODD_TOKENS = [["hello", "world", "zoo"], ["", "🦒", "日本語", "ça"], ["x"], ["mixed", "Кириллица", "عربى", "!!"]]
B, T, ATOL = 4, 7, 1e-5


@dataclass
class CheckResult:
    component: str
    check: str
    ok: bool
    detail: str = ""


def _lengths() -> list[int]:
    return [T, 3, 1, 5]


def _mask(lengths, left: bool = False) -> torch.Tensor:
    t, pos, lens = max(lengths), torch.arange(max(lengths)).unsqueeze(0), torch.tensor(lengths).unsqueeze(1)
    return pos >= t - lens if left else pos < lens


def _sides(obj) -> list[tuple[str, torch.Tensor]]:
    """The padding layouts a mixer or pooler must handle: right, and left unless it declares
    ``needs_right_padding``."""
    sides = [("right", _mask(_lengths()))]
    if not getattr(obj, "needs_right_padding", False):
        sides.append(("left", _mask(_lengths(), left=True)))
    return sides


class _Perturbed:
    """Parameters moved away from their initialisation for the duration of a check (and put
    back after): an init can hide a defect, e.g. a gMLP's spatial weights start near 0 with a
    bias equal at every position, so weights tied to row positions only show once trained."""

    def __init__(self, module: torch.nn.Module, scale: float = 0.3):
        self.module, self.scale = module, scale

    def __enter__(self):
        self.saved = copy.deepcopy(self.module.state_dict())
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for p in self.module.parameters():
                if p.is_floating_point():
                    p.add_(torch.randn(p.shape, generator=g).to(p) * self.scale)
        return self.module

    def __exit__(self, *exc):
        self.module.load_state_dict(self.saved)


def _to_left(x: torch.Tensor, right: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    """The same real tokens, in the same order, moved from a right- to a left-padded layout."""
    y = torch.zeros_like(x)
    y[left] = x[right]
    return y


def _grads_reach(module: torch.nn.Module) -> tuple[bool, str]:
    dead = [n for n, p in module.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    return (not dead, f"no gradient reached: {', '.join(dead[:6])}" if dead else "")


def _run(results: list, label: str, name: str, fn: Callable[[], tuple[bool, str] | None]) -> None:
    try:
        out = fn()
        ok, detail = out if out is not None else (True, "")
    except Exception as e:  # a crashing check is a failed check, with the reason
        ok, detail = False, f"{type(e).__name__}: {e}"
    results.append(CheckResult(label, name, bool(ok), detail))


def _config_roundtrip(kind: str, name: str, config: dict, dim: int) -> tuple[bool, str]:
    """The resolved config (nested components included) survives JSON, as in config.json."""
    spec = resolve(kind, name, config, dim)
    comp = get_registry().resolve(kind, name)
    cfg = comp.config.model_validate(spec.config)
    again = comp.config.model_validate(json.loads(json.dumps(spec.config)))
    return cfg == again, "" if cfg == again else f"{cfg!r} != {again!r}"


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> tuple[bool, str]:
    err = (a - b).abs().max().item() if a.numel() else 0.0
    return err <= ATOL * max(1.0, b.abs().max().item() if b.numel() else 1.0), f"{what}: max difference {err:.2e}"


def check_embedder(obj, dim: int) -> list[tuple[str, Callable]]:
    def shapes():
        inputs = obj.encode(ODD_TOKENS)
        mask = inputs["mask"]
        want = [len(s) for s in ODD_TOKENS]
        if mask.dtype != torch.bool or mask.shape != (len(ODD_TOKENS), max(want)):
            return False, f"mask must be bool (B, T)=({len(ODD_TOKENS)}, {max(want)}), got {mask.dtype} {tuple(mask.shape)}"
        if mask.sum(1).tolist() != want:
            return False, f"mask lengths {mask.sum(1).tolist()} != token counts {want}"
        out = obj(inputs)
        if out.shape != (len(ODD_TOKENS), max(want), dim):
            return False, f"expected {(len(ODD_TOKENS), max(want), dim)}, got {tuple(out.shape)}"
        return bool(torch.isfinite(out).all()), "non-finite values" if not torch.isfinite(out).all() else ""

    def padding():
        obj.eval()
        with torch.no_grad():
            batch = obj(obj.encode(ODD_TOKENS))
            for i, seq in enumerate(ODD_TOKENS):
                alone = obj(obj.encode([seq]))[0]
                ok, detail = _close(batch[i, : len(seq)], alone, f"sequence {i} alone vs in a padded batch")
                if not ok:
                    return ok, detail
        return True, ""

    def grads():
        obj.train()
        obj.zero_grad(set_to_none=True)
        inputs = obj.encode(ODD_TOKENS)
        out = obj(inputs)
        (out * inputs["mask"].unsqueeze(-1)).pow(2).sum().backward()
        return _grads_reach(obj)

    return [("shapes", shapes), ("padding", padding), ("gradients", grads)]


def _input_grads(obj, dim: int, mask, pick: Callable) -> Callable:
    """Gradients reach every trainable parameter and the input of a mixer or pooler;
    ``pick(output, mask)`` selects what the test loss reads (real outputs, the pooled vector)."""
    def grads():
        obj.train()
        obj.zero_grad(set_to_none=True)
        x = torch.randn(B, T, dim, requires_grad=True)
        pick(obj(x, mask), mask).pow(2).sum().backward()
        ok, detail = _grads_reach(obj)
        if ok and (x.grad is None or not x.grad[mask].abs().sum() > 0):
            return False, "no gradient reached the input"
        return ok, detail

    return grads


def _padding_checks(obj, dim: int, pick: Callable, what: str) -> tuple[Callable, Callable]:
    """Padding invariance on both sides, and left vs right padding, for a mixer or pooler;
    ``pick(output, mask)`` selects what must not change (real outputs, the pooled vector)."""
    lengths = _lengths()
    mask = _mask(lengths)

    def padding():
        obj.eval()
        for side, m in _sides(obj):
            g = torch.Generator().manual_seed(0)
            x = torch.randn(B, T, dim, generator=g)
            y = x.clone()
            y[~m] = torch.randn(int((~m).sum()), dim, generator=g) * 3
            with torch.no_grad():
                ok, detail = _close(pick(obj(x, m), m), pick(obj(y, m), m),
                                    f"{what} after changing padded inputs ({side} padding)")
            if not ok:
                return ok, detail
        return True, ""

    def padding_side():
        if getattr(obj, "needs_right_padding", False):
            return True, "declares needs_right_padding: right padding only"
        obj.eval()
        left = _mask(lengths, left=True)
        x = torch.randn(B, T, dim, generator=torch.Generator().manual_seed(1))
        with torch.no_grad(), _Perturbed(obj):
            return _close(pick(obj(_to_left(x, mask, left), left), left), pick(obj(x, mask), mask),
                          f"{what} with left vs right padding (declare needs_right_padding = True if the "
                          f"component cannot take left padding)")

    return padding, padding_side


def check_mixer(obj, dim: int) -> list[tuple[str, Callable]]:
    lengths = _lengths()
    mask = _mask(lengths)

    def shapes():
        out = obj(torch.randn(B, T, dim), mask)
        ok = out.shape == (B, T, dim) and torch.isfinite(out[mask]).all()
        return ok, f"expected ({B}, {T}, {dim}) finite, got {tuple(out.shape)}"

    padding, padding_side = _padding_checks(obj, dim, lambda out, m: out[m], "real outputs")

    def causal_values():
        obj.eval()
        long = [T + 9, T + 2]  # two sequences, one padded
        m = _mask(long)
        g = torch.Generator().manual_seed(2)
        x = torch.randn(len(long), max(long), dim, generator=g)
        with torch.no_grad():
            base = obj(x, m)
            for t in range(max(long) - 1):
                y = x.clone()
                y[:, t + 1:] = torch.randn(len(long), max(long) - t - 1, dim, generator=g) * 1e3
                out = obj(y, m)
                keep = m[:, : t + 1]
                ok, detail = _close(out[:, : t + 1][keep], base[:, : t + 1][keep],
                                    f"outputs at positions <= {t} after replacing later inputs by values x1e3 "
                                    f"(causal = True)")
                if not ok:
                    return ok, detail
        return True, ""

    grads = _input_grads(obj, dim, mask, lambda out, m: out[m])

    checks = [("shapes", shapes), ("padding", padding), ("padding_side", padding_side), ("gradients", grads)]
    if getattr(obj, "causal", False):
        checks.insert(3, ("causal_values", causal_values))
    return checks


def check_pooler(obj, dim: int) -> list[tuple[str, Callable]]:
    lengths = _lengths()
    mask = _mask(lengths)

    def shapes():
        pooled, weights = obj(torch.randn(B, T, dim), mask)
        out_dim = getattr(obj, "out_dim", dim)
        if pooled.shape != (B, out_dim):
            return False, f"expected ({B}, {out_dim}), got {tuple(pooled.shape)}"
        if weights is not None:
            if weights.shape not in ((B, T),) and not (weights.dim() == 3 and weights.shape[0] == B and weights.shape[-1] == T):
                return False, f"weights must be (B, T) or (B, H, T), got {tuple(weights.shape)}"
            w = weights if weights.dim() == 3 else weights.unsqueeze(1)
            if (w.masked_select(~mask.unsqueeze(1).expand_as(w)) != 0).any():
                return False, "weights are not exactly 0 on padding"
            return _close(w.sum(-1), torch.ones_like(w.sum(-1)), "weights summed over real tokens vs 1")
        return True, ""

    padding, padding_side = _padding_checks(obj, dim, lambda out, m: out[0], "pooled vector")

    grads = _input_grads(obj, dim, mask, lambda out, m: out[0])

    return [("shapes", shapes), ("padding", padding), ("padding_side", padding_side), ("gradients", grads)]


def fake_outputs(dim: int = 16, num_classes: int = 4, batch: int = 8) -> tuple[dict, torch.Tensor]:
    """Model outputs a loss can score: two examples per class."""
    g = torch.Generator().manual_seed(0)
    lengths = [T - i % 3 for i in range(batch)]
    mask = _mask(lengths)
    out = {
        "logits": torch.randn(batch, num_classes, generator=g).requires_grad_(),
        "pooled": torch.randn(batch, dim, generator=g).requires_grad_(),
        "states": torch.randn(batch, T, dim, generator=g).requires_grad_(),
        "mask": mask,
    }
    target = torch.arange(batch) % num_classes
    return out, target


def check_loss(obj, dim: int) -> list[tuple[str, Callable]]:
    def scalar():
        out, target = fake_outputs(dim)
        extra = getattr(obj, "contract_outputs", None)  # a loss that reads what its task adds (loss=dino: views)
        if extra is not None:
            out.update(extra(out))
        value = obj(out, target)
        if value.dim() != 0 or not torch.isfinite(value):
            return False, f"expected a finite scalar, got shape {tuple(value.shape)} value {value}"
        value.backward()
        used = [k for k in ("logits", "pooled", "states") if out[k].grad is not None and out[k].grad.abs().sum() > 0]
        return bool(used), "no gradient reached logits, pooled or states" if not used else ""

    return [("scalar", scalar)]


def check_optimizer(obj, dim: int) -> list[tuple[str, Callable]]:
    def make():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        return net, obj(list(net.named_parameters()))

    def data():
        g = torch.Generator().manual_seed(1)
        x = torch.randn(64, 8, generator=g)
        return x, x[:, :1] * 2 - x[:, 1:2]

    def descends():
        net, opt = make()
        if not isinstance(opt, torch.optim.Optimizer):
            return False, f"expected a torch.optim.Optimizer, got {type(opt).__name__}"
        x, y = data()
        first = None
        for _ in range(60):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(x), y)
            first = loss.item() if first is None else first
            loss.backward()
            opt.step()
        last = torch.nn.functional.mse_loss(net(x), y).item()
        return last < 0.9 * first, f"loss {first:.4f} -> {last:.4f} after 60 steps"

    def state_roundtrip():
        net, opt = make()
        x, y = data()
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opt.step()
        net2, opt2 = make()
        net2.load_state_dict(net.state_dict())
        opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # torch shares tensors otherwise
        for n, o in ((net, opt), (net2, opt2)):
            o.zero_grad()
            torch.nn.functional.mse_loss(n(x), y).backward()
            o.step()
        a = torch.cat([p.flatten() for p in net.parameters()])
        b = torch.cat([p.flatten() for p in net2.parameters()])
        return _close(b, a, "parameters after a step from a restored state_dict")

    return [("descends", descends), ("state_dict", state_roundtrip)]


CHECKS = {"embed": check_embedder, "mixer": check_mixer, "pool": check_pooler, "loss": check_loss,
          "optim": check_optimizer, "head": None}


def check_component(kind: str, name: str, dim: int = 16, **config: Any) -> list[CheckResult]:
    """Run the contract checks of ``kind`` on component ``name`` built with ``config``."""
    kind = normalize_kind(kind)
    label = f"{kind}:{name}"
    results: list[CheckResult] = []
    torch.manual_seed(0)
    built: dict[str, Any] = {}

    def build():
        if kind == "head":  # built with the model's pooled width and classes besides its config
            return factory.build(resolve(kind, name, config, dim), context={"in_dim": dim, "num_classes": NUM_CLASSES})
        return create(kind, name, dim=dim, **config)

    _run(results, label, "builds", lambda: built.update(obj=build()))
    if "obj" not in built:
        return results
    obj = built["obj"]
    checks = check_head(obj, dim, build) if kind == "head" else CHECKS[kind](obj, dim)
    for check_name, fn in checks:
        _run(results, label, check_name, fn)
    _run(results, label, "config_json", lambda: _config_roundtrip(kind, name, config, dim))
    return results


def assert_contract(kind: str, name: str, dim: int = 16, **config: Any) -> None:
    failed = [r for r in check_component(kind, name, dim=dim, **config) if not r.ok]
    if failed:
        raise AssertionError("\n".join(f"{r.component} {r.check}: {r.detail}" for r in failed))
