"""``zoo new-plugin``: write a complete, installable third-party plugin package.

    zoo new-plugin fancy --kind mixer --out plugins-dev/
    plugins-dev/zoo-fancy/
        pyproject.toml                  the ``zoo`` entry point, dependency on zoo-nlp
        README.md                       install, test, use, publish
        zoo_fancy/__init__.py           registration (torch-free: zoo imports it at discovery)
        zoo_fancy/configs.py            the pydantic config (torch-free: ``zoo info`` reads it)
        zoo_fancy/fancy.py              the method (torch), citing its post and paper
        tests/test_fancy_contract.py    zoo's contract kit on the component
        tests/test_fancy.py             tests of the method itself

The files are rendered from ``templates/`` (``common/`` for every kind, one folder per
kind) with ``string.Template``: ``$name`` placeholders, ``$$`` for a literal dollar sign.
The component starts as a real, minimal method of its kind that passes the contract kit,
so ``pip install -e`` + ``pytest`` + ``zoo build`` work before a line is changed. Neither
torch nor any plugin is imported here.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from zoo_core.errors import ZooError, did_you_mean
from zoo_core.registry import KINDS, KIND_TITLES, normalize_kind

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


@dataclass(frozen=True)
class Starter:
    """The method a scaffold of one kind starts with (its code is in ``templates/KIND/``)."""

    suffix: str            # of the class name: FancyMixer
    factory: str           # the registered attribute of the method module ($Class: the class name)
    summary: str           # one line for ``zoo list``
    contract_configs: str  # the configs the contract kit is run with, as a Python list literal
    use: str               # a command line for the README


STARTERS = {
    "mixer": Starter("Mixer", "$Class",
                     "gated global context: each token gated by the mean of its sequence (squeeze-and-excitation "
                     "over tokens)", '[{}, {"expand": 1}]',
                     "zoo build mixer=$name mixer.expand=4   # or a stack: mixer=[$name,lambda]"),
    "embed": Starter("Embedder", "$Class",
                     "hashed word embeddings: each token's stable hash picks a row of a fixed-size table",
                     '[{}, {"buckets": 7, "seed": 1}]', "zoo build embed=$name          # embed.buckets=100000"),
    "pool": Starter("Pooler", "$Class",
                    "additive attention pooling: a learned query scores tanh(W x_t); the pooled vector is the "
                    "softmax-weighted sum of the tokens", '[{}, {"temperature": 0.5}]',
                    "zoo build pool=$name           # zoo predict MODEL TEXT --explain shows its weights"),
    "head": Starter("Head", "$Class",
                    "cosine classifier: scaled cosines between the pooled vector and one learned vector per class",
                    '[{}, {"scale": 1.0}]', "zoo build head=$name           # head.scale=16"),
    "loss": Starter("Loss", "$Class",
                    "focal loss: cross-entropy down-weighting well-classified examples by (1 - p_target)^gamma",
                    '[{}, {"gamma": 0.0}]', "zoo build loss=$name           # loss.gamma=1"),
    "optim": Starter("", "build", "Lion: sign of an interpolated momentum as the update, with decoupled weight decay",
                     '[{}, {"weight_decay": 0.1}]', "zoo build optim=$name          # optim.lr=3e-4 (or train.lr= when "
                     "training)"),
}

# template (under templates/, KIND standing for the kind's folder) -> path in the package
FILES = {
    "common/pyproject.toml.tmpl": "pyproject.toml",
    "common/README.md.tmpl": "README.md",
    "common/__init__.py.tmpl": "$pkg/__init__.py",
    "KIND/configs.py.tmpl": "$pkg/configs.py",
    "KIND/method.py.tmpl": "$pkg/$name.py",
    "common/test_contract.py.tmpl": "tests/test_${name}_contract.py",
    "KIND/test_method.py.tmpl": "tests/test_$name.py",
}


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
    for rel, text in render(names, kind, zoo_version).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def placeholders(names: PluginNames, kind: str, zoo_version: str = "0.1.0") -> dict[str, str]:
    """What the templates' ``$names`` stand for."""
    starter = STARTERS[kind]
    cls = names.title + starter.suffix
    values = {"name": names.component, "dist": names.dist, "pkg": names.package, "kind": kind,
              "kind_title": KIND_TITLES[kind], "Class": cls, "Config": names.title + "Config",
              "factory": starter.factory.replace("$Class", cls), "zoo_version": zoo_version,
              "summary": starter.summary, "contract_configs": starter.contract_configs,
              "base_config": "ModuleConfig" if kind in ("embed", "mixer", "pool") else "ComponentConfig"}
    values["use"] = Template(starter.use).substitute(values)
    return values


def render(names: PluginNames, kind: str, zoo_version: str = "0.1.0") -> dict[str, str]:
    """The scaffold's files, relative path -> text."""
    values = placeholders(names, kind, zoo_version)
    templates = resources.files(__package__) / "templates"
    return {Template(rel).substitute(values): Template((templates / tmpl.replace("KIND", kind)).read_text("utf-8"))
            .substitute(values) for tmpl, rel in FILES.items()}
