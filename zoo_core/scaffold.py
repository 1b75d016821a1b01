"""``zoo new-plugin``: write a complete, installable third-party plugin package.

    zoo new-plugin fancy --kind mixer --out plugins-dev/
    plugins-dev/zoo-fancy/
        pyproject.toml              the ``zoo`` entry point, dependency on zoo-nlp
        README.md                   install, test, use, publish
        zoo_fancy/__init__.py       registration (torch-free: zoo imports it at discovery)
        zoo_fancy/configs.py        the pydantic config (torch-free: ``zoo info`` reads it)
        zoo_fancy/fancy.py          the method (torch), with its docstring template
        tests/test_fancy.py         zoo's contract kit + tests of the method itself

The component starts as a real, minimal method of its kind that passes the contract kit,
so ``pip install -e`` + ``pytest`` + ``zoo build`` work before a line is changed. Neither
torch nor any plugin is imported here.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from .errors import ZooError, did_you_mean
from .registry import KINDS, KIND_TITLES, normalize_kind

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_NAME = 40
RESERVED_NAMES = {"configs", "tests", "test", "zoo", "core", "plugins", "cli"}


@dataclass(frozen=True)
class PluginNames:
    """Every name a scaffold for NAME uses: ``token-shift`` -> component ``token_shift``,
    distribution ``zoo-token-shift``, package ``zoo_token_shift``, class ``TokenShiftMixer``."""

    component: str
    dist: str
    package: str
    title: str  # CamelCase stem of class names

    @classmethod
    def of(cls, raw: str) -> "PluginNames":
        name = validate_name(raw)
        snake = name.replace("-", "_")
        return cls(component=snake, dist="zoo-" + snake.replace("_", "-"), package="zoo_" + snake,
                   title="".join(part.capitalize() for part in snake.split("_")))


def validate_name(raw: str) -> str:
    """The plugin's name, or a ZooError (one line, with a fix) saying what is wrong with it."""
    example = "e.g. zoo new-plugin token_shift --kind mixer"
    name = raw.strip()
    for prefix in ("zoo-", "zoo_"):  # `zoo new-plugin zoo-fancy` means the plugin `fancy`
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    if not name:
        raise ZooError(f"'{raw}': a plugin needs a name; {example}")
    if len(name) > MAX_NAME:
        raise ZooError(f"'{raw}': names are at most {MAX_NAME} characters; pick a shorter one")
    if not NAME_RE.match(name):
        fixed = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        hint = f"; did you mean '{fixed}'?" if fixed and NAME_RE.match(fixed) else ""
        raise ZooError(f"'{raw}': plugin names are lowercase letters and digits, separated by single '_' or '-', "
                       f"starting with a letter{hint} ({example})")
    snake = name.replace("-", "_")
    if keyword.iskeyword(snake):
        raise ZooError(f"'{raw}': '{snake}' is a Python keyword, so its module {snake}.py could not be imported; "
                       f"add a word, e.g. '{snake}_net'")
    if snake in RESERVED_NAMES:
        raise ZooError(f"'{raw}': '{snake}' is reserved (it would clash with a module of the package); "
                       f"name the plugin after its method, {example}")
    return name


def scaffold(raw_name: str, kind: str = "mixer", out_dir: str | Path = ".", zoo_version: str = "0.1.0") -> Path:
    """Write the package for plugin ``raw_name`` of ``kind`` under ``out_dir``; return its folder."""
    names = PluginNames.of(raw_name)
    try:
        kind = normalize_kind(kind)
    except ZooError:
        raise ZooError(f"--kind {kind}: not a component kind;{did_you_mean(kind, KINDS)} choose one of: "
                       f"{', '.join(KINDS)}") from None
    root = Path(out_dir) / names.dist
    if root.exists():
        raise ZooError(f"{root}: already exists; refusing to overwrite it — choose another --out or name, "
                       f"or remove the folder")
    files = render(names, kind, zoo_version)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def render(names: PluginNames, kind: str, zoo_version: str = "0.1.0") -> dict[str, str]:
    """The scaffold's files, relative path -> text."""
    method = METHODS[kind]
    values = {
        "name": names.component, "dist": names.dist, "pkg": names.package, "kind": kind,
        "kind_title": KIND_TITLES[kind], "Class": names.title + method["suffix"],
        "Config": names.title + "Config", "factory": method["factory"].replace("$Class", names.title + method["suffix"]),
        "zoo_version": zoo_version, "summary": method["summary"], "paper": method["paper"],
        "base_config": "ModuleConfig" if kind in ("embed", "mixer", "pool") else "ComponentConfig",
        "contract_configs": method["contract_configs"], "use": method["use"],
    }

    def fill(text: str) -> str:
        return Template(text).substitute(values).lstrip("\n")

    return {
        "pyproject.toml": fill(PYPROJECT),
        "README.md": fill(README),
        f"{names.package}/__init__.py": fill(REGISTER),
        f"{names.package}/configs.py": fill(CONFIGS_HEAD) + fill(method["config"]),
        f"{names.package}/{names.component}.py": fill(method["module"]),
        f"tests/test_{names.component}.py": fill(TESTS_HEAD) + fill(method["tests"]),
    }


# ---- files shared by every kind ----------------------------------------------------------
PYPROJECT = '''
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$summary (a zoo $kind_title plugin)"
readme = "README.md"
requires-python = ">=3.10"
license = { text = "MIT" }
dependencies = ["zoo-nlp>=$zoo_version"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This entry point makes the package a zoo plugin: zoo imports "$pkg" (torch-free) at discovery.
[project.entry-points.zoo]
$pkg = "$pkg"

[tool.setuptools]
packages = ["$pkg"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''
# $dist

A [zoo](https://pypi.org/project/zoo-nlp/) plugin adding the $kind_title `$kind:$name`:
$summary.

<!-- Describe your method here: what it does, the post and paper it comes from, when to use it. -->

## Use

```bash
pip install -e .                 # from this folder (or: pip install $dist once published)
zoo list '$kind:*'               # $name  $dist==0.1.0
zoo info $kind:$name             # its config fields, defaults, post and paper
zoo check $dist                  # zoo's contract kit on everything this package provides
$use
```

A model trained with `$kind:$name` records `$dist==<version>` in its `config.json`;
loading it where this package is missing says `run: pip install '$dist>=<version>'`.

## Develop

- `$pkg/$name.py`: the method (torch). Replace the starting method with yours; keep the
  shape contract stated in its docstring and cite the post and paper there.
- `$pkg/configs.py`: its pydantic config, torch-free (`zoo info` and `zoo list` read it
  without importing torch).
- `$pkg/__init__.py`: the registration, torch-free; `summary`, `post` and `paper` are what
  `zoo list` and `zoo info` show.
- `tests/`: `pytest` runs zoo's contract kit on the component and the method's own tests.

## Publish

Bump `version` in `pyproject.toml`, then `python -m build && twine upload dist/*`. Models
record the version they were trained with, so never re-upload a changed method under an
existing version.
'''

REGISTER = '''
"""$dist: registers the zoo $kind_title `$kind:$name`.

zoo imports this module during plugin discovery (every `zoo list`, `zoo build`, ...), so it
must stay cheap: no torch here. The factory string names the module with the torch code;
zoo imports it only when the component is built.
"""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("$kind", "$name", factory="$pkg.$name:$factory", config=configs.$Config,
             summary="$summary",
             post="-",  # the blog post that explains the method, if any
             paper="$paper")
'''

CONFIGS_HEAD = '''
"""Configs of $dist (torch-free: `zoo info` reads them without importing torch).

Fields are validated (types, bounds) and unknown keys are rejected; a field's description is
what `zoo info $kind:$name` shows. Users set them with `$kind.FIELD=VALUE`.
"""
from __future__ import annotations

from pydantic import Field

from zoo_core.config import $base_config

'''

TESTS_HEAD = '''
"""Tests of $dist: zoo's contract kit (shapes, padding, gradients, config round trip), then
what only the method's author knows. Run with `pytest` after `pip install -e .`."""
import subprocess
import sys

import pytest
import torch
from pydantic import ValidationError

import zoo_core
from zoo_core.compose import create
from zoo_core.testing import assert_contract

from $pkg.configs import $Config

QUALIFIED = "$dist:$name"  # this distribution's component, even if another one uses the name


def test_registered_by_this_distribution():
    component = zoo_core.info("$kind:" + QUALIFIED)
    assert component.dist == "$dist" and component.config is $Config


@pytest.mark.parametrize("config", $contract_configs)
def test_meets_the_${kind}_contract(config):
    assert_contract("$kind", QUALIFIED, **config)


def test_registration_does_not_import_torch():
    code = "import sys, $pkg; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False", "keep torch out of $pkg/__init__.py and configs.py"

'''

# ---- one starting method per kind --------------------------------------------------------
MIXER = dict(
    suffix="Mixer", factory="$Class",
    summary="gated global context: each token gated by the mean of its sequence (squeeze-and-excitation over tokens)",
    paper="Hu et al., Squeeze-and-Excitation Networks (CVPR 2018, arXiv:1709.01507)",
    contract_configs='[{}, {"expand": 1}]',
    use="zoo build mixer=$name mixer.expand=4   # or a stack: mixer=[$name,lambda]",
    config='''
class $Config($base_config):
    expand: int = Field(2, gt=0, description="hidden width = expand * dim")
''',
    module='''
"""$Class: <one line: what the method does>.

Post: <the blog post that explains it, or '-'>.
Paper: <authors, title, venue or arXiv id>.

<The method's equations, as the forward pass computes them.> The scaffold starts with a
working method, gated global context (squeeze-and-excitation over the tokens; Hu et al.,
"Squeeze-and-Excitation Networks", CVPR 2018): every token is gated by a summary of its
sequence's real tokens,

    c   = mean of x_t over the real tokens          (B, D)
    out = W_o (silu(W_i x_t) * sigmoid(W_g c))      (B, T, D)

Shape contract: x (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
Outputs at real tokens must not depend on padded positions (zoo's contract kit checks it).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .configs import $Config


class $Class(Mixer):
    def __init__(self, cfg: $Config):
        super().__init__()
        self.dim = cfg.dim
        hidden = cfg.expand * cfg.dim
        self.inner = nn.Linear(cfg.dim, hidden)
        self.gate = nn.Linear(cfg.dim, hidden)
        self.out = nn.Linear(hidden, cfg.dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        real = mask.unsqueeze(-1)
        context = x.masked_fill(~real, 0.0).sum(1) / real.sum(1).clamp_min(1)   # (B, D)
        gate = torch.sigmoid(self.gate(context)).unsqueeze(1)                    # (B, 1, H)
        return self.out(F.silu(self.inner(x)) * gate)
''',
    tests='''
def test_tokens_interact():
    """A mixer mixes: changing one real token changes the others' outputs."""
    mixer = create("$kind", QUALIFIED, dim=8).eval()
    x, mask = torch.randn(1, 4, 8), torch.ones(1, 4, dtype=torch.bool)
    y = x.clone()
    y[0, 0] += 1.0
    with torch.no_grad():
        assert not torch.allclose(mixer(x, mask)[0, 1:], mixer(y, mask)[0, 1:])


def test_bad_config_is_refused():
    with pytest.raises(ValidationError, match="greater than 0"):
        $Config(expand=0)
''',
)

EMBED = dict(
    suffix="Embedder", factory="$Class",
    summary="hashed word embeddings: each token's stable hash picks a row of a fixed-size table",
    paper="Weinberger et al., Feature Hashing for Large Scale Multitask Learning (ICML 2009)",
    contract_configs='[{}, {"buckets": 7, "seed": 1}]',
    use="zoo build embed=$name          # embed.buckets=100000",
    config='''
class $Config($base_config):
    buckets: int = Field(20_000, gt=0, description="rows of the table; tokens share a row when their hashes collide")
    seed: int = Field(0, ge=0, lt=2**64, description="salt of the hash (another seed, another token-to-row map)")
''',
    module='''
"""$Class: <one line: what the method does>.

Post: <the blog post that explains it, or '-'>.
Paper: <authors, title, venue or arXiv id>.

The scaffold starts with a working method, the hashing trick (Weinberger et al., "Feature
Hashing for Large Scale Multitask Learning", ICML 2009): a token's vector is the row of a
(buckets x dim) table picked by a stable hash of its UTF-8 bytes, so any string, seen in
training or not, gets a vector with a fixed parameter budget. The hash is blake2b, the same
in every process (Python's ``hash()`` is salted per process and must never be used here).

Shape contract: encode(B token lists) -> {"ids": (B, T) long, "mask": (B, T) bool};
forward(inputs) -> (B, T, dim), zero at padding. A sequence embeds the same alone as in a
padded batch (zoo's contract kit checks it).
"""
from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Embedder, pad_batch

from .configs import $Config


def bucket(token: str, buckets: int, seed: int = 0) -> int:
    """Row of ``token``: 1 + stable hash mod buckets (row 0 is padding)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8, salt=seed.to_bytes(16, "little")).digest()
    return 1 + int.from_bytes(digest, "little") % buckets


class $Class(Embedder):
    def __init__(self, cfg: $Config):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.table = nn.Embedding(cfg.buckets + 1, cfg.dim, padding_idx=0)

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        ids = [[bucket(token, self.cfg.buckets, self.cfg.seed) for token in tokens] for tokens in batch]
        padded, mask = pad_batch(ids, pad=0)
        return {"ids": torch.tensor(padded, dtype=torch.long), "mask": mask}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return self.table(inputs["ids"])
''',
    tests='''
def test_hash_is_pinned():
    """Rows must be the same in every process and on every machine: Python's salted hash()
    would give other rows in each run. If you change the hash, old checkpoints break."""
    from $pkg.$name import bucket

    assert [bucket("bonjour", 20000), bucket("bonjour", 20000, seed=1), bucket("", 20000)] == [3232, 18022, 18757]


def test_unseen_and_odd_tokens_get_vectors():
    embedder = create("$kind", QUALIFIED, dim=8)
    vectors, mask = embedder.embed([["never-seen-before", "", "🦒"]])
    assert vectors.shape == (1, 3, 8) and mask.all() and vectors.abs().sum(-1).gt(0).all()


def test_bad_config_is_refused():
    with pytest.raises(ValidationError, match="greater than 0"):
        $Config(buckets=0)
''',
)

POOL = dict(
    suffix="Pooler", factory="$Class",
    summary="additive attention pooling: a learned query scores tanh(W x_t); the pooled vector is the "
            "softmax-weighted sum of the tokens",
    paper="Yang et al., Hierarchical Attention Networks for Document Classification (NAACL 2016)",
    contract_configs='[{}, {"temperature": 0.5}]',
    use="zoo build pool=$name           # zoo predict MODEL TEXT --explain shows its weights",
    config='''
class $Config($base_config):
    temperature: float = Field(1.0, gt=0, description="softmax temperature of the token scores (lower: sharper)")
''',
    module='''
"""$Class: <one line: what the method does>.

Post: <the blog post that explains it, or '-'>.
Paper: <authors, title, venue or arXiv id>.

The scaffold starts with a working method, additive attention pooling (Yang et al.,
"Hierarchical Attention Networks for Document Classification", NAACL 2016):

    s_t = q . tanh(W x_t + b) / temperature       (B, T)   masked: -inf at padding
    w   = softmax(s)                              (B, T)   exactly 0 at padding
    out = sum_t w_t x_t                           (B, D)

Shape contract: x (B, T, dim), mask (B, T) bool -> (pooled (B, out_dim), weights (B, T) or
None). Weights, when returned, sum to 1 over the real tokens and are 0 on padding; ``out_dim``
is the pooled width (here ``dim``).
"""
from __future__ import annotations

from torch import Tensor, nn

from zoo_core.interfaces import Pooler

from .configs import $Config


class $Class(Pooler):
    def __init__(self, cfg: $Config):
        super().__init__()
        self.dim, self.temperature = cfg.dim, cfg.temperature
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.query = nn.Linear(cfg.dim, 1, bias=False)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        scores = self.query(self.proj(x).tanh()).squeeze(-1) / self.temperature
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights.unsqueeze(-1) * x.masked_fill(~mask.unsqueeze(-1), 0.0)).sum(1), weights
''',
    tests='''
def test_a_single_token_pools_to_itself():
    pooler = create("$kind", QUALIFIED, dim=8)
    x = torch.randn(1, 3, 8)
    pooled, weights = pooler(x, torch.tensor([[True, False, False]]))
    torch.testing.assert_close(pooled[0], x[0, 0])
    assert weights.tolist() == [[1.0, 0.0, 0.0]]


def test_bad_config_is_refused():
    with pytest.raises(ValidationError, match="greater than 0"):
        $Config(temperature=0)
''',
)

LOSS = dict(
    suffix="Loss", factory="$Class",
    summary="focal loss: cross-entropy down-weighting well-classified examples by (1 - p_target)^gamma",
    paper="Lin et al., Focal Loss for Dense Object Detection (ICCV 2017, arXiv:1708.02002)",
    contract_configs='[{}, {"gamma": 0.0}]',
    use="zoo build loss=$name           # loss.gamma=1",
    config='''
class $Config($base_config):
    gamma: float = Field(2.0, ge=0, description="focusing parameter; 0 gives plain cross-entropy")
''',
    module='''
"""$Class: <one line: what the method does>.

Post: <the blog post that explains it, or '-'>.
Paper: <authors, title, venue or arXiv id>.

The scaffold starts with a working method, the focal loss (Lin et al., "Focal Loss for Dense
Object Detection", ICCV 2017), which lets easy examples contribute less:

    FL = mean over the batch of -(1 - p_y)^gamma * log p_y,    p = softmax(logits)

Shape contract: outputs["logits"] (B, C), target (B,) long -> a scalar. ``needs_head = True``
asks zoo for a linear output layer producing the logits (set it False to score
outputs["pooled"] (B, D) yourself, e.g. a metric-learning loss).
"""
from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss

from .configs import $Config


class $Class(Loss):
    needs_head = True

    def __init__(self, cfg: $Config):
        super().__init__()
        self.gamma = cfg.gamma

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        log_p = F.log_softmax(outputs["logits"], dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
        return -((1 - log_p.exp()).pow(self.gamma) * log_p).mean()
''',
    tests='''
def test_gamma_zero_is_cross_entropy():
    loss = create("$kind", QUALIFIED, gamma=0.0)
    logits, target = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    torch.testing.assert_close(loss({"logits": logits}, target), torch.nn.functional.cross_entropy(logits, target))


def test_easy_examples_count_less():
    loss = create("$kind", QUALIFIED, gamma=2.0)
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.5, 0.0]])
    target = torch.tensor([0])
    ce = torch.nn.functional.cross_entropy
    assert loss({"logits": easy}, target) / ce(easy, target) < loss({"logits": hard}, target) / ce(hard, target)


def test_bad_config_is_refused():
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        $Config(gamma=-1)
''',
)

OPTIM = dict(
    suffix="", factory="build",
    summary="Lion: sign of an interpolated momentum as the update, with decoupled weight decay",
    paper="Chen et al., Symbolic Discovery of Optimization Algorithms (arXiv:2302.06675)",
    contract_configs='[{}, {"weight_decay": 0.1}]',
    use="zoo build optim=$name          # optim.lr=3e-4 (or train.lr= when training)",
    config='''
class $Config($base_config):
    lr: float = Field(3e-4, gt=0, description="learning rate: every weight moves by lr per step (3-10x below AdamW's)")
    beta1: float = Field(0.9, ge=0, lt=1, description="momentum share in the update's sign")
    beta2: float = Field(0.99, ge=0, lt=1, description="momentum decay")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (scaled by lr)")
''',
    module='''
"""$Class: <one line: what the method does>.

Post: <the blog post that explains it, or '-'>.
Paper: <authors, title, venue or arXiv id>.

The scaffold starts with a working method, Lion (Chen et al., "Symbolic Discovery of
Optimization Algorithms", arXiv:2302.06675): the update is the sign of an interpolation of
the momentum and the gradient, so every weight moves by exactly lr (plus weight decay):

    u  = sign(beta1 m + (1 - beta1) g)
    p -= lr (u + weight_decay p)
    m  = beta2 m + (1 - beta2) g

Contract: ``build(cfg)`` returns a callable (named_parameters) -> torch.optim.Optimizer.
Frozen parameters (requires_grad False) are left out. zoo sets ``lr`` from ``train.lr``.
"""
from __future__ import annotations

import torch
from torch.optim import Optimizer

from .configs import $Config


class Lion(Optimizer):
    def __init__(self, params, lr: float, beta1: float, beta2: float, weight_decay: float):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta1, beta2, wd = group["lr"], group["beta1"], group["beta2"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["momentum"] = torch.zeros_like(p)
                m = state["momentum"]
                update = (beta1 * m + (1 - beta1) * p.grad).sign_()
                p.mul_(1 - lr * wd).sub_(update, alpha=lr)
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss


def build(cfg: $Config):
    def make(named_parameters):
        params = [p for _, p in named_parameters if p.requires_grad]
        return Lion(params, lr=cfg.lr, beta1=cfg.beta1, beta2=cfg.beta2, weight_decay=cfg.weight_decay)

    return make
''',
    tests='''
def test_first_step_moves_every_weight_by_lr():
    """Lion's update is a sign: each weight with a gradient moves by exactly lr."""
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    before = [p.detach().clone() for p in net.parameters()]
    opt = create("$kind", QUALIFIED, lr=0.01)(list(net.named_parameters()))
    net(torch.randn(8, 4)).pow(2).sum().backward()
    opt.step()
    for old, new in zip(before, net.parameters()):
        torch.testing.assert_close((new - old).abs(), torch.full_like(old, 0.01))


def test_bad_config_is_refused():
    with pytest.raises(ValidationError, match="less than 1"):
        $Config(beta1=1.0)
''',
)

METHODS = {"mixer": MIXER, "embed": EMBED, "pool": POOL, "loss": LOSS, "optim": OPTIM}
