"""Discovery of third-party distributions through the ``zoo`` entry-point group, installed
for real with pip into a temporary folder: new components, name clashes, broken plugins."""
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_dist, pip_install_target, run_zoo

SHIFT_PLUGIN = '''
"""A third-party plugin: a token-shift mixer (each token mixed with its left neighbour, as in
RWKV's token shift) and a pooler whose name clashes with zoo's own ``mean``."""
from pydantic import Field
from zoo_core import hookimpl
from zoo_core.config import ModuleConfig


class ShiftConfig(ModuleConfig):
    mix: float = Field(0.5, ge=0, le=1, description="share of the left neighbour")


class MeanConfig(ModuleConfig):
    pass


@hookimpl
def zoo_register_components(register):
    register("mixer", "shift", factory="zoo_shift.impl:ShiftMixer", config=ShiftConfig,
             summary="token shift: x_t + mix * (x_(t-1) - x_t)", post="-", paper="Peng et al., RWKV (2023)")
    register("pool", "mean", factory="zoo_shift.impl:SumPooler", config=MeanConfig, summary="a clashing name")
'''

SHIFT_IMPL = '''
import torch
from zoo_core.interfaces import Mixer, Pooler


class ShiftMixer(Mixer):
    def __init__(self, cfg):
        super().__init__()
        self.dim, self.mix = cfg.dim, cfg.mix
        self.proj = torch.nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x, mask):
        x = x * mask.unsqueeze(-1)
        prev = torch.nn.functional.pad(x, (0, 0, 1, 0))[:, :-1]
        return self.proj(x + self.mix * (prev - x))


class SumPooler(Pooler):
    def __init__(self, cfg):
        super().__init__()
        self.dim = cfg.dim

    def forward(self, x, mask):
        return (x * mask.unsqueeze(-1)).sum(1), None
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder with two real third-party distributions installed by pip: a working one and
    one that fails to import."""
    root = tmp_path_factory.mktemp("dists")
    target = root / "site"
    good = make_dist(root, "zoo-shift", "zoo_shift", {"__init__.py": SHIFT_PLUGIN, "impl.py": SHIFT_IMPL}, "1.2.0")
    bad = make_dist(root, "zoo-broken", "zoo_broken", {"__init__.py": "raise ImportError('needs libfoo 3')\n"}, "0.1")
    return pip_install_target(target, good, bad)


def zoo_with(site, *args, **env):
    return run_zoo(*args, env={"PYTHONPATH": str(site), **env})


def test_third_party_component_is_listed_and_builds(site):
    r = zoo_with(site, "list", "mixer:*")
    assert r.returncode == 0, r.stderr
    assert "shift" in r.stdout and "zoo-shift==1.2.0" in r.stdout
    r = zoo_with(site, "build", "mixer=shift", "mixer.mix=0.25", "pool=zoo-nlp:mean")
    assert r.returncode == 0, r.stderr
    assert "zoo-shift==1.2.0" in r.stdout


def test_duplicate_name_is_ambiguous_and_qualified_names_resolve(site):
    r = zoo_with(site, "build", "pool=mean")
    assert r.returncode == 2
    assert "'mean' is provided by 2 distributions; pick one with a qualified name: zoo-nlp:mean, zoo-shift:mean" in r.stderr
    r = zoo_with(site, "build", "pool=zoo-shift:mean")
    assert r.returncode == 0, r.stderr
    r = zoo_with(site, "list", "pool:*")
    assert "zoo-shift:mean" in r.stdout and "zoo-nlp:mean" in r.stdout


def test_broken_plugin_is_reported_once_and_the_rest_works(site):
    r = zoo_with(site, "list")
    assert r.returncode == 0
    warnings = [l for l in r.stderr.splitlines() if "zoo-broken" in l]
    assert len(warnings) == 1, r.stderr
    assert "needs libfoo 3" in warnings[0] and warnings[0].startswith("warning: ")
    r = zoo_with(site, "plugins")
    assert "zoo-broken" in r.stdout and "needs libfoo 3" in r.stdout


def test_autoload_kill_switch_loads_only_builtins(site):
    r = zoo_with(site, "list", "mixer:*", ZOO_DISABLE_PLUGIN_AUTOLOAD="1")
    assert r.returncode == 0
    assert "shift" not in r.stdout and "lambda" in r.stdout
    assert "zoo-broken" not in r.stderr


def test_model_with_third_party_component_records_and_requires_it(site, tmp_path):
    r = zoo_with(site, "build", "mixer=shift", "pool=zoo-nlp:mean", "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    import json

    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "zoo-shift==1.2.0" in config["requirements"]
    assert "zoo_shift" not in json.dumps(config)  # no import paths in a checkpoint
    # where the plugin is missing, loading says exactly what to install
    code = "import zoo_core, sys\ntry:\n    zoo_core.load(sys.argv[1])\nexcept zoo_core.ZooError as e:\n    print(e)"
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True)
    assert "run: pip install 'zoo-shift>=1.2.0'" in r.stdout


def test_builtin_registry_is_plugin_based_and_core_imports_no_plugin():
    import zoo_core

    reg = zoo_core.get_registry()
    assert {p.entry_point for p in reg.plugins if p.dist == "zoo-nlp"} >= {"builtin_mixers", "builtin_embedders"}
    core = Path(zoo_core.__file__).parent
    for path in core.glob("*.py"):
        assert "zoo_plugins" not in path.read_text(), f"{path.name} imports a built-in plugin"


# ---- citations read from the method's source ---------------------------------------------
CITED = '''"""A method module.

Posts: "First Post"; "Second
Post" (a note)
Paper: Someone et al., "A Title
Continued: Here", 2020
Shape contract: not part of the citation.

Paper: a second paper line
"""
raise RuntimeError("the registry must read this file, never import it")
'''


def test_citation_lines_continue_until_a_blank_line_or_the_next_key():
    from zoo_core.citations import citation_lines

    got = citation_lines(CITED.split('"""')[1])
    assert got == {"post": '"First Post"; "Second Post" (a note)',
                   "paper": 'Someone et al., "A Title Continued: Here", 2020; a second paper line'}
    assert citation_lines(None) == {} and citation_lines("One line.\n\nPost:") == {"post": ""}


def test_citation_is_read_from_the_factory_source_without_importing_it(tmp_path, monkeypatch):
    from zoo_core.citations import factory_citation
    from zoo_core.registry import Component

    (tmp_path / "zoo_cited_method.py").write_text(CITED, encoding="utf-8")
    (tmp_path / "zoo_uncited_method.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "zoo_cited_functions.py").write_text(
        '"""Post: the module\'s post\nPaper: the module\'s paper"""\n\n'
        'def maker(cfg):\n    """Paper: the maker\'s own paper"""\n    return cfg\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cited = factory_citation("zoo_cited_method:Method")
    assert cited["post"].startswith('"First Post"') and "zoo_cited_method" not in sys.modules
    assert factory_citation("zoo_uncited_method:Method") == {}  # no docstring: no citation
    assert factory_citation("zoo_no_such_module:Method") == {}
    import zoo_cited_functions

    assert factory_citation(zoo_cited_functions.maker) == {"post": "the module\'s post",
                                                          "paper": "the maker\'s own paper"}
    comp = Component("mixer", "m", "d", "1", "zoo_cited_method:Method", dict, "", "", "")
    assert comp.post.startswith('"First Post"') and comp.paper.endswith("a second paper line")
    explicit = Component("mixer", "m", "d", "1", "zoo_cited_method:Method", dict, "", "registered", "")
    assert explicit.post == "registered" and explicit.paper.startswith("Someone")


def test_every_builtin_component_cites_a_post_and_a_paper():
    import zoo_core

    for c in zoo_core.get_registry().all_components():
        if c.dist == "zoo-nlp":
            assert c.post and c.paper, c.key


# ---- nested components from a third-party distribution -----------------------------------
EXTRAS_PLUGIN = '''
"""A third party's loss term and inner optimizer, used inside zoo's combined loss and lookahead."""
from pydantic import Field
from zoo_core import hookimpl
from zoo_core.config import ComponentConfig


class FocalConfig(ComponentConfig):
    gamma: float = Field(2.0, ge=0)


class SignSGDConfig(ComponentConfig):
    lr: float = Field(0.01, gt=0)


@hookimpl
def zoo_register_components(register):
    register("loss", "focal", factory="zoo_extras.impl:FocalLoss", config=FocalConfig, summary="focal loss",
             post="-", paper="Lin et al., Focal Loss (ICCV 2017)")
    register("optim", "signsgd", factory="zoo_extras.impl:build", config=SignSGDConfig, summary="sign SGD",
             post="-", paper="Bernstein et al., signSGD (ICML 2018)")
'''

EXTRAS_IMPL = '''
import torch
from torch.nn import functional as F
from zoo_core.interfaces import Loss


class FocalLoss(Loss):
    def __init__(self, *, gamma: float = 2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, outputs, target):
        logp = F.log_softmax(outputs["logits"], -1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (-(1 - logp.exp()) ** self.gamma * logp).mean()


def build(cfg):
    return lambda named: torch.optim.SGD([p for _, p in named if p.requires_grad], lr=cfg.lr)
'''


def test_a_third_party_loss_term_and_inner_optimizer_are_pinned_and_required(tmp_path_factory, tmp_path):
    import json

    root = tmp_path_factory.mktemp("extras")
    dist = make_dist(root, "zoo-extras", "zoo_extras", {"__init__.py": EXTRAS_PLUGIN, "impl.py": EXTRAS_IMPL}, "2.1.0")
    site = pip_install_target(root / "site", dist)
    env = {"PYTHONPATH": str(site)}
    r = run_zoo("build", "loss=cross_entropy+0.5*focal", "loss.gamma=1.5", "optim=lookahead",
                "optim.inner=signsgd", "optim.inner.lr=0.05", "--out", str(tmp_path / "m"), env=env)
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "zoo-extras==2.1.0" in config["requirements"]
    model = config["spec"]["model"]
    term = model["loss"]["config"]["terms"][1]
    assert (term["weight"], term["loss"]["name"], term["loss"]["dist"], term["loss"]["version"]) == \
        (0.5, "focal", "zoo-extras", "2.1.0") and term["loss"]["config"] == {"gamma": 1.5}
    inner = model["optim"]["config"]["inner"]
    assert (inner["name"], inner["dist"], inner["config"]["lr"]) == ("signsgd", "zoo-extras", 0.05)
    assert "zoo_extras" not in json.dumps(config)  # no import path in a checkpoint
    # with the plugin: the model loads and its loss has the third party's term
    code = ("import zoo_core, sys\ntry:\n    m = zoo_core.load(sys.argv[1]); print(type(m.loss.terms[1]).__name__)\n"
            "except zoo_core.ZooError as e:\n    print(e)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True, env={
        **__import__("os").environ, **env})
    assert r.stdout.strip() == "FocalLoss", r.stdout + r.stderr
    # without it: the pip install line, not "unknown loss"
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True)
    assert "run: pip install 'zoo-extras>=2.1.0'" in r.stdout, r.stdout + r.stderr
