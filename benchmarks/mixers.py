"""Time every zoo mixer against torch SDPA attention and against peer implementations from PyPI.

    .venv/bin/python benchmarks/mixers.py                  # full: N = 512, 1024, 2048, 4096
    .venv/bin/python benchmarks/mixers.py --quick          # N = 512, 1024, fewer repeats
    .venv/bin/python benchmarks/mixers.py --only lambda,performer --lengths 512,2048
    .venv/bin/python benchmarks/mixers.py --out docs/benchmarks/mixers.md

Random (32, N, 64) batches without padding (mask all True), 2 threads. For each mixer and N:
forward (eval, no_grad) and forward+backward (train; d(sum of outputs)/d(inputs and weights)),
the median of several runs after a warm-up. Every time is also given as a ratio to "SDPA":
a standard 4-head attention layer (q/k/v and output projections around
torch.nn.functional.scaled_dot_product_attention), measured in the same run at every N.

Each (row, N, mode) is measured on its own: built, warmed up, then timed ``--repeats``
times in a row, so that a row's data are in cache the way they are in a training loop (at
N=512 a (32, N, 64) tensor is 4 MB and stays in cache; at 4096 it is 32 MB and does not),
and no other row or size runs in between. ``--interleave`` times the rows in rounds instead
(each round runs every row once; the ratio is then the median of ratios to SDPA in the same
round): steadier against other processes, but every run starts with the caches full of the
previous row's data, which hides cache effects at short N. The load average is read before
and after every N and printed in the table: compare figures only from quiet runs.

Same-run baselines say what the machine does as N grows: a position-wise feed-forward block
(64 -> 256 -> 64, GELU; no mixing), an element-wise chain around a cumulative sum, and a
plain reference of each linear method (its equations in about ten lines of torch). A zoo
mixer's growth from the first to the last N is compared with its plain reference's.

By default glibc malloc is told to keep freed memory for reuse (``--system-malloc`` turns
that off): in a VM every fresh 32 MiB tensor otherwise costs thousands of page faults,
which swamp the arithmetic at N=4096 for every method alike.

Peers (the ``bench`` extra: linear-attention-transformer, performer-pytorch, lambda-networks,
x-transformers) are timed on the same batches; one that cannot be imported is reported and
skipped. Quadratic methods are skipped at an N where the estimate from the previous N
exceeds the time budget, or where materialised (B, H, N, N) scores would not fit in memory.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from typing import Callable

# OpenMP workers waiting between parallel regions: by default they spin for a long while,
# which on a shared 2-core machine burns the time slices other processes need (a 2-thread op
# then runs several times slower); fully passive workers (OMP_WAIT_POLICY=PASSIVE) instead
# pay a sleep/wake-up per region, which made ops made of many small regions (RNN steps, the
# chunked causal kernels, hand-written backwards) 2-4x slower on a quiet machine. A short spin
# is right in both cases. It must be set before torch is imported; the environment wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import keep_freed_memory, load_average, machine, median_seconds  # noqa: E402

B, D, H = 32, 64, 4
FULL_LENGTHS = (512, 1024, 2048, 4096)
QUICK_LENGTHS = (512, 1024)


@dataclass
class Entry:
    label: str  # row name
    method: str  # the zoo method it implements: peers are compared with this zoo row
    source: str  # "zoo", "torch" or the PyPI distribution
    build: Callable[[int], nn.Module]  # N -> module called as module(x, mask)
    complexity: str = "linear"  # "linear", "n log n", "quadratic"
    dense_scores: bool = False  # materialises (B, H, N, N) attention scores
    max_n: int | None = None  # longest N it is run at (memory that grows faster than N)
    times: dict = field(default_factory=dict)  # (N, "fwd"|"fb") -> seconds or a skip note
    ratios: dict = field(default_factory=dict)  # (N, "fwd"|"fb") -> median paired ratio to SDPA


# --------------------------------------------------------------------------- baselines
class SDPAAttention(nn.Module):
    """The reference: multi-head attention layer on torch's fused SDPA, no mask."""

    def __init__(self, dim: int = D, heads: int = H):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4).unbind(0)
        return self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class BareSDPA(nn.Module):
    """torch SDPA alone on x split into heads (no projections): the floor of attention."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b, n, d = x.shape
        q = x.view(b, n, H, d // H).transpose(1, 2)
        return F.scaled_dot_product_attention(q, q, q).transpose(1, 2).reshape(b, n, d)


# --------------------------------------------------------------------------- same-run baselines
# What the machine itself does as N grows: once (B, N, 64) float tensors (8 MB at N=1024,
# 32 MB at 4096) no longer fit in cache, even position-wise work grows faster than N. Each
# linear method also gets a plain reference: its equations in about ten lines of torch, no
# padding, no fused backward; a zoo mixer should grow no faster than its reference.
class FeedForward(nn.Module):
    """Position-wise feed-forward block 64 -> 256 -> 64 with GELU: no token mixing at all."""

    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class ElementwiseChain(nn.Module):
    """A chain of element-wise ops around a cumulative sum over the tokens: pure memory traffic."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        y = torch.sigmoid(x) * x
        return torch.tanh(y.cumsum(1) * 0.01) * x + y


class _Heads(nn.Module):
    def __init__(self, bias: bool = False):
        super().__init__()
        self.to_q, self.to_k, self.to_v = (nn.Linear(D, D, bias=bias) for _ in range(3))
        self.out = nn.Linear(D, D)

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # (B, H, N, D/H) each
        b, n, d = x.shape
        return tuple(p(x).view(b, n, H, d // H).transpose(1, 2) for p in (self.to_q, self.to_k, self.to_v))

    def merge(self, y: Tensor) -> Tensor:
        b, h, n, e = y.shape
        return self.out(y.transpose(1, 2).reshape(b, n, h * e))


def _kernel_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return (q @ (k.transpose(-1, -2) @ v)) / (q @ k.sum(2, keepdim=True).transpose(-1, -2))


class PlainLinearAttention(_Heads):
    """Non-causal elu+1 linear attention (Katharopoulos et al.) as written in the paper."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = self.heads(x)
        return self.merge(_kernel_attention(F.elu(q) + 1, F.elu(k) + 1, v))


class PlainPerformer(_Heads):
    """FAVOR+ (positive random features, max-shifted exponents) + the same kernel attention."""

    def __init__(self):
        super().__init__()
        d = D // H
        self.register_buffer("proj", torch.randn(round(d * math.log(d)), d))

    def features(self, x: Tensor, per: tuple[int, ...]) -> Tensor:
        e = x @ self.proj.t() - x.pow(2).sum(-1, keepdim=True) / 2
        return (e - e.amax(per, keepdim=True).detach()).exp()

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = self.heads(x)
        s = (D // H) ** -0.25
        return self.merge(_kernel_attention(self.features(q * s, (-1,)), self.features(k * s, (-2, -1)), v))


class PlainFastformer(nn.Module):
    """Fastformer's eq. 3-7 (Wu et al.): two softmax-pooled global vectors, element-wise products."""

    def __init__(self):
        super().__init__()
        self.qkv, self.out = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.query_score, self.key_score = nn.Linear(D, H), nn.Linear(D, H)

    def pool(self, z: Tensor, score: nn.Linear) -> Tensor:
        b, n, d = z.shape
        alpha = (score(z) / math.sqrt(d // H)).softmax(1)  # (B, N, H)
        return torch.einsum("bnh,bnhd->bhd", alpha, z.view(b, n, H, d // H)).reshape(b, 1, d)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        p = self.pool(q, self.query_score) * k
        return self.out(self.pool(p, self.key_score) * v) + q


class PlainHyperMixer(nn.Module):
    """HyperMixer's token mixing (Mai et al.): W = h(X + P), LayerNorm(W2 GELU(W1ᵀ X))."""

    def __init__(self):
        super().__init__()
        hyper = lambda: nn.Sequential(nn.Linear(D, D, bias=False), nn.GELU(), nn.Linear(D, D, bias=False))  # noqa: E731
        self.h1, self.h2, self.norm = hyper(), hyper(), nn.LayerNorm(D)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        from zoo_core.positions import sinusoids

        hyper_in = x + sinusoids(x.shape[1], D, dtype=x.dtype)
        w1, w2 = self.h1(hyper_in), self.h2(hyper_in)
        return self.norm(w2 @ F.gelu(w1.transpose(1, 2) @ x))


class PlainLambda(nn.Module):
    """Lambda layer content lambda (Bello eq. 1, softmax over the context, multi-query, k=16)."""

    def __init__(self):
        super().__init__()
        self.to_q, self.to_k, self.to_v = nn.Linear(D, H * 16, bias=False), nn.Linear(D, 16, bias=False), nn.Linear(
            D, D // H, bias=False)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b, n, d = x.shape
        lam = self.to_k(x).softmax(1).transpose(1, 2) @ self.to_v(x)  # (B, k, v)
        return (self.to_q(x).view(b, n * H, 16) @ lam).view(b, n, d)


class PlainFNet(nn.Module):
    """FNet (Lee-Thorp et al.): Re(FFT2) over tokens and hidden."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return torch.fft.fft2(x).real


# the zoo mixer each plain reference stands for
REFERENCES = {"linear_attention": PlainLinearAttention, "performer": PlainPerformer, "fastformer": PlainFastformer,
              "hypermixer": PlainHyperMixer, "lambda": PlainLambda, "fnet": PlainFNet}


# --------------------------------------------------------------------------- entries
def zoo_entries(only: set[str] | None) -> list[Entry]:
    import zoo_core

    def zoo(name: str, **cfg) -> Callable[[int], nn.Module]:
        def build(n: int) -> nn.Module:
            extra = {"max_len": n} if name in ("gmlp", "mlp_mixer") else {}
            return zoo_core.create("mixer", name, dim=D, **cfg, **extra)
        return build

    # fast_weights and feedback: sequential over tokens, each step attending to all earlier ones
    complexity = {"self_attention": "quadratic", "gmlp": "quadratic", "fnet": "n log n",
                  "fast_weights": "quadratic", "feedback": "quadratic"}
    names = [c.name for c in zoo_core.list_components("mixer:*")]
    order = ["self_attention", "linear_attention", "performer", "lambda", "fastformer", "hypermixer", "fnet",
             "mlp_mixer", "gmlp", "causal_conv", "qrnn", "gru", "lstm", "switch", "fast_weights", "feedback",
             "identity"]
    names = [n for n in order if n in names] + sorted(set(names) - set(order))
    out = []
    for name in names:
        out.append(Entry(name, name, "zoo", zoo(name), complexity.get(name, "linear")))
        if name == "lambda":
            out.append(Entry("lambda position_lambda window=3", "lambda+pos", "zoo",
                             zoo("lambda", position_lambda=True, window=3)))
        if name in ("linear_attention", "performer", "lambda", "self_attention"):
            out.append(Entry(f"{name} causal", f"{name} causal", "zoo", zoo(name, causal=True),
                             complexity.get(name, "linear")))
    if only:
        out = [e for e in out if e.label.split()[0] in only]
    return out


def baseline_entries(only: set[str] | None) -> list[Entry]:
    """The machine's own growth (feed-forward, element-wise chain) and each method's plain reference."""
    out = [Entry("feed-forward 64-256-64 GELU", "feed-forward", "baseline", lambda n: FeedForward()),
           Entry("element-wise chain + cumsum", "element-wise", "baseline", lambda n: ElementwiseChain())]
    for name, cls in REFERENCES.items():
        if not only or name in only:
            out.append(Entry(f"plain {name}", name, "reference", lambda n, cls=cls: cls(),
                             "n log n" if name == "fnet" else "linear"))
    return out


class _Ignoring(nn.Module):
    """Adapts a peer's forward(x) to the mixer call (x, mask); the benchmark has no padding."""

    def __init__(self, module: nn.Module, call: Callable[[nn.Module, Tensor], Tensor]):
        super().__init__()
        self.module, self.call = module, call

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(self.module, x)


def peer_entries(only: set[str] | None) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []

    def peer(dist: str, module: str, method: str, label: str, make: Callable[[object, int], nn.Module],
             call: Callable[[nn.Module, Tensor], Tensor] = lambda m, x: m(x), **kw):
        if only and method.split()[0].split("+")[0] not in only:
            return
        try:
            mod = __import__(module, fromlist=["_"])
        except Exception as e:  # a broken peer must not stop the benchmark
            problems.append(f"{dist}: not importable ({type(e).__name__}: {e}); install the bench extra")
            return
        entries.append(Entry(label, method, dist, lambda n: _Ignoring(make(mod, n), call), **kw))

    peer("x-transformers", "x_transformers", "self_attention", "x-transformers Attention",
         lambda m, n: m.Attention(D, dim_head=D // H, heads=H), complexity="quadratic", dense_scores=True)
    peer("x-transformers", "x_transformers", "self_attention", "x-transformers Attention flash=True",
         lambda m, n: m.Attention(D, dim_head=D // H, heads=H, flash=True), complexity="quadratic")
    peer("linear-attention-transformer", "linear_attention_transformer", "linear_attention",
         "linear-attention-transformer SelfAttention", lambda m, n: m.linear_attention_transformer.SelfAttention(D, H))
    peer("performer-pytorch", "performer_pytorch", "performer", "performer-pytorch SelfAttention",
         lambda m, n: m.SelfAttention(D, heads=H, dim_head=D // H))
    peer("lambda-networks", "lambda_networks", "lambda+pos", "lambda-networks LambdaLayer r=7",
         lambda m, n: m.LambdaLayer(D, dim_k=16, r=7, heads=H, dim_out=D),
         call=lambda m, x: m(x.transpose(1, 2).unsqueeze(2)).squeeze(2).transpose(1, 2))
    # top-2 gating with its second expert switched off (threshold 1e9), i.e. Switch's top-1 routing;
    # experts of the same width as zoo's switch (hidden 2 * dim; its experts are GEGLU)
    peer("st-moe-pytorch", "st_moe_pytorch", "switch", "st-moe-pytorch MoE top-1",
         lambda m, n: m.MoE(D, num_experts=4, gating_top_n=2, threshold_train=1e9, threshold_eval=1e9,
                            expert_hidden_mult=2),
         call=lambda m, x: m(x)[0], max_n=2048)  # its dispatch tensors grow with N²: killed for memory at 4096
    return entries, problems


# --------------------------------------------------------------------------- measuring
def make_run(entry: Entry, n: int, mode: str, x: Tensor, xg: Tensor, mask: Tensor) -> Callable[[], None]:
    torch.manual_seed(0)
    module = entry.build(n)
    if mode == "fwd":
        module.eval()

        def run():
            with torch.no_grad():
                module(x, mask)
    else:
        module.train()

        def run():
            module.zero_grad(set_to_none=True)
            xg.grad = None
            module(xg, mask).float().sum().backward()
    return run


def plan(entries: list[Entry], ref: Entry, n: int, repeats: int, budget_s: float, mem_bytes: float,
         prev: dict) -> list:
    """The (entry, mode) pairs to time at length n; the rest get a skip note."""
    power = {"quadratic": 2, "n log n": 1.1}
    jobs = []
    for e in entries:
        if e.max_n is not None and n > e.max_n:
            e.times[(n, "fwd")] = e.times[(n, "fb")] = f"skip: N > {e.max_n} (memory grows with N²)"
            continue
        if e.dense_scores and B * H * n * n * 4 * 4 > mem_bytes:
            e.times[(n, "fwd")] = e.times[(n, "fb")] = f"skip: (B,H,N,N) scores need ~{B * H * n * n * 16 / 2**30:.0f} GiB"
            continue
        for mode in ("fwd", "fb"):
            last = prev[e.label].get(mode)
            if last is not None and e is not ref:
                estimate = last[1] * (n / last[0]) ** power.get(e.complexity, 1)
                if estimate * (repeats + 1) > budget_s:
                    e.times[(n, mode)] = f"skip: ~{estimate:.0f} s a run"
                    continue
            jobs.append((e, mode))
    return jobs


def measure_length(entries: list[Entry], ref: Entry, n: int, repeats: int, budget_s: float, mem_bytes: float,
                   prev: dict, interleave: bool = False) -> None:
    """Time every entry at length n. By default each (entry, mode) on its own: build, one
    warm-up, ``repeats`` timed runs in a row, median; ratio = that median / SDPA's median.
    With ``interleave``, in rounds (round r runs every entry once); ratio = median over rounds
    of (entry time / SDPA time in the same round)."""
    x = torch.randn(B, n, D)
    xg = x.clone().requires_grad_(True)
    mask = torch.ones(B, n, dtype=torch.bool)
    samples: dict[tuple[str, str], list[float]] = {}
    runs = []
    for e, mode in plan(entries, ref, n, repeats, budget_s, mem_bytes, prev):
        try:
            run = make_run(e, n, mode, x, xg, mask)
            run()  # warm-up
        except RuntimeError as err:  # e.g. out of memory
            e.times[(n, mode)] = f"failed: {str(err).splitlines()[0][:60]}"
            continue
        if interleave:
            runs.append((e, mode, run))
        else:
            samples[(e.label, mode)] = [median_seconds(run, 1, warmup=0) for _ in range(repeats)]
            e.times[(n, mode)] = statistics.median(samples[(e.label, mode)])
            prev[e.label][mode] = (n, e.times[(n, mode)])
            del run
    for r in range(repeats if interleave else 0):
        for e, mode, run in runs:
            samples.setdefault((e.label, mode), []).append(median_seconds(run, 1, warmup=0))
        print(f"N={n}: round {r + 1}/{repeats} done", file=sys.stderr, flush=True)
    for e, mode, _ in runs:
        e.times[(n, mode)] = statistics.median(samples[(e.label, mode)])
        prev[e.label][mode] = (n, e.times[(n, mode)])
    for e in entries:
        for mode in ("fwd", "fb"):
            times, ref_times = samples.get((e.label, mode)), samples.get((ref.label, mode))
            if times and ref_times:
                e.ratios[(n, mode)] = (statistics.median(t / rt for t, rt in zip(times, ref_times)) if interleave
                                       else statistics.median(times) / statistics.median(ref_times))


# --------------------------------------------------------------------------- reporting
def cell(entry: Entry, ref: Entry, n: int, mode: str) -> str:
    t = entry.times.get((n, mode))
    if t is None:
        return "-"
    if isinstance(t, str):
        return t
    r = entry.ratios.get((n, mode))
    ratio = f" ({r:.2f}x)" if r is not None else ""
    return f"{t * 1000:.0f}{ratio}" if t >= 0.01 else f"{t * 1000:.1f}{ratio}"


def growth(entry: Entry, lengths, mode: str = "fb") -> float | None:
    a, b = entry.times.get((lengths[0], mode)), entry.times.get((lengths[-1], mode))
    return b / a if isinstance(a, float) and isinstance(b, float) else None


def table(entries: list[Entry], ref: Entry, lengths, mode: str) -> list[str]:
    head = "| mixer | source | complexity | " + " | ".join(f"N={n} ms (x SDPA)" for n in lengths)
    head += f" | growth {lengths[0]}->{lengths[-1]} |"
    lines = [head, "|" + "---|" * (4 + len(lengths))]
    for e in entries:
        g = growth(e, lengths, mode)
        lines.append(f"| {e.label} | {e.source} | {e.complexity} | "
                     + " | ".join(cell(e, ref, n, mode) for n in lengths)
                     + f" | {f'{g:.1f}x' if g else '-'} |")
    return lines


def verdicts(zoo: list[Entry], peers: list[Entry], ref: Entry, lengths, baselines: list[Entry] = ()) -> list[str]:
    out = ["", "## Targets", ""]
    if len(lengths) > 1:
        span = f"N={lengths[0]} to {lengths[-1]} ({lengths[-1] // lengths[0]}x the tokens)"
        machine_rows = [b for b in baselines if b.source == "baseline"]
        plain = {b.method: b for b in baselines if b.source == "reference"}
        base = ", ".join(f"{b.label} {g:.2f}x" for b in machine_rows if (g := growth(b, lengths)))
        out.append(f"Growth of fwd+bwd time from {span}. The machine's own, in the same run: {base or 'not measured'}. "
                   "Goal (issue 15): a linear-time mixer grows at most 1.1x as much as the plain reference of its "
                   "method in the same run (causal forms have no plain reference: compare them with the baselines).")
        out.append("")
        for e in zoo:
            if e.complexity == "quadratic" or e.label == "identity":
                continue
            g = growth(e, lengths)
            r = plain.get(e.label)
            rg = growth(r, lengths) if r else None
            note = " (O(N log N) by nature)" if e.complexity == "n log n" else ""
            if g is None:
                out.append(f"- {e.label}: not measured at both ends")
            elif rg:
                out.append(f"- {e.label}: {g:.2f}x; {r.label} {rg:.2f}x -> {g / rg:.2f}x of it, "
                           f"{'met' if g <= 1.1 * rg else 'MISSED'}{note}")
            else:
                out.append(f"- {e.label}: {g:.2f}x{note}")
    lam = next((e for e in zoo if e.label == "lambda"), None)
    if lam and (512, "fb") in lam.ratios:
        r = lam.ratios[(512, "fb")]
        out += ["", f"lambda fwd+bwd at (32, 512, 64): {r:.3f}x SDPA (target <= 0.2x) -> "
                    f"{'met' if r <= 0.2 else 'MISSED'}"]
    out += ["", "Zoo vs peer of the same method (time ratio zoo / peer, median over the N both ran; <= 1.0 "
                "means zoo is no slower):", ""]
    by_method = {e.method: e for e in zoo}
    for p in peers:
        z = by_method.get(p.method)
        if z is None:
            continue
        parts = []
        for mode, name in (("fwd", "fwd"), ("fb", "fwd+bwd")):
            # each as a ratio to SDPA in the same rounds, so the comparison is paired too
            ratios = [z.ratios[(n, mode)] / p.ratios[(n, mode)] for n in lengths
                      if (n, mode) in z.ratios and (n, mode) in p.ratios]
            if ratios:
                m = statistics.median(ratios)
                parts.append(f"{name} {m:.2f} ({'met' if m <= 1.0 else 'MISSED'}; per N: "
                             + ", ".join(f"{r:.2f}" for r in ratios) + ")")
        out.append(f"- {z.label} vs {p.label}: " + ("; ".join(parts) if parts else "no common N"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 512, 1024 and 2 repeats")
    ap.add_argument("--lengths", help="comma-separated sequence lengths (default: 512,1024,2048,4096)")
    ap.add_argument("--repeats", type=int, help="timed runs per cell (default 5, quick 2)")
    ap.add_argument("--only", help="comma-separated zoo mixer names (their peers come along)")
    ap.add_argument("--no-peers", action="store_true", help="skip the PyPI peers")
    ap.add_argument("--budget", type=float, default=150.0,
                    help="skip a cell whose estimated total time exceeds this many seconds (not SDPA)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--interleave", action="store_true",
                    help="time the rows in rounds (each round runs every row once) instead of each on its own")
    ap.add_argument("--no-baselines", action="store_true",
                    help="skip the feed-forward, element-wise and plain-reference rows")
    ap.add_argument("--system-malloc", action="store_true",
                    help="leave glibc malloc as it is (by default freed memory is kept for reuse, see "
                         "_timing.keep_freed_memory: in a VM, page faults on fresh 32 MiB tensors otherwise "
                         "dominate at N=4096)")
    ap.add_argument("--out", help="also write the tables as markdown to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    malloc_note = "glibc malloc left as is" if args.system_malloc else (
        "glibc malloc told to keep freed memory (mallopt; like jemalloc/tcmalloc)" if keep_freed_memory()
        else "malloc tuning not available")
    lengths = tuple(int(v) for v in args.lengths.split(",")) if args.lengths else (
        QUICK_LENGTHS if args.quick else FULL_LENGTHS)
    repeats = args.repeats or (2 if args.quick else 5)
    only = set(args.only.split(",")) if args.only else None
    try:
        mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.25
    except (ValueError, OSError):
        mem_bytes = 8 * 2**30

    ref = Entry("SDPA", "sdpa", "torch", lambda n: SDPAAttention(), "quadratic")
    bare = Entry("bare SDPA op (no projections)", "sdpa-op", "torch", lambda n: BareSDPA(), "quadratic")
    zoo = zoo_entries(only)
    peers, problems = ([], []) if args.no_peers else peer_entries(only)
    for p in problems:
        print(f"peer unavailable: {p}", file=sys.stderr)
    baselines = [] if args.no_baselines else baseline_entries(only)
    everyone = [ref, bare] + baselines + zoo + peers
    load_before = load_average()
    loads = []
    prev: dict[str, dict] = {e.label: {} for e in everyone}
    for n in lengths:
        before = load_average()
        measure_length(everyone, ref, n, repeats, args.budget, mem_bytes, prev, args.interleave)
        loads.append(f"N={n}: {before} -> {load_average()}")
        for e in everyone:
            done = {m: e.times.get((n, m)) for m in ("fwd", "fb")}
            print(f"N={n:5d} {e.label:45s} " + "  ".join(
                f"{m}={v * 1000:9.1f} ms" if isinstance(v, float) else f"{m}={v}" for m, v in done.items()),
                file=sys.stderr, flush=True)

    info = machine()
    lines = ["# Mixer benchmark", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, torch.set_num_threads({info['threads']}); "
             f"torch {info['torch']}, Python {info['python']}; {info['date']}. Load average (1/5/15 min) "
             f"at the start {load_before}, at the end {info['load']}: other processes share the cores, "
             "so compare ratios within a column rather than absolute times.",
             "Load average (1/5/15 min) before -> after each N: " + "; ".join(loads) + ".",
             f"Batches (32, N, 64), no padding; median of {repeats} "
             + ("interleaved rounds after a warm-up (each round times every row once); " if args.interleave else
                "runs in a row after a warm-up, each row and N on its own; ")
             + f"{malloc_note}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
             f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '(unset)')}. "
             "Times in ms; in brackets the ratio to SDPA (a 4-head attention layer on "
             "torch.nn.functional.scaled_dot_product_attention with q/k/v/output projections) "
             + ("timed in the same round (median over rounds). " if args.interleave else "at the same N. ")
             + "Rows with source `baseline` and `reference` are the same-run baselines (a feed-forward block, an "
             "element-wise chain, a plain ten-line implementation of each linear method). "
             "Command: `.venv/bin/python benchmarks/mixers.py "
             + " ".join(argv if argv is not None else sys.argv[1:]) + "`.", ""]
    if problems:
        lines += [f"Peer unavailable: {p}" for p in problems] + [""]
    lines += ["## Forward + backward", ""] + table(everyone, ref, lengths, "fb")
    lines += ["", "## Forward only (eval, no_grad)", ""] + table(everyone, ref, lengths, "fwd")
    lines += verdicts(zoo, peers, ref, lengths, baselines)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
