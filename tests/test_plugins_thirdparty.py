"""Third-party plugins as separate pip-installed distributions: the example plugin in
examples/zoo-example (its own tests, ``zoo check``, a trained model pinning it), plugins
that break in the ways plugins do (invalid config, a name registered twice, a component
that fails its contract, torch imported at import time), and ``zoo plugins --requirements``."""
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from helpers import make_dist, pip_install_target, run_zoo, write_tsv

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zoo-example"

BROKEN = {
    # a config that is not a pydantic class: rejected at registration, the plugin is reported
    "zoo-badconfig": ("zoo_badconfig", '''
        from zoo_core import hookimpl

        @hookimpl
        def zoo_register_components(register):
            register("mixer", "dict_configured", factory="zoo_badconfig:nothing", config={"dim": 64})
        '''),
    # the same name twice: the first registration is kept, the second reported
    "zoo-twice": ("zoo_twice", '''
        from zoo_core import hookimpl
        from zoo_core.config import ModuleConfig

        @hookimpl
        def zoo_register_components(register):
            register("pool", "twice_pooled", factory="zoo_plugins.poolers.mean:MeanPooler", config=ModuleConfig,
                     summary="first registration")
            register("pool", "twice_pooled", factory="zoo_plugins.poolers.max:MaxPooler", config=ModuleConfig,
                     summary="second registration")
        '''),
    # writes a marker when imported (so a test sees whether discovery ran) and has a mixer that
    # leaks padding; its torch code is in a module imported only when the mixer is built
    "zoo-leaky": ("zoo_leaky", '''
        import os
        from zoo_core import hookimpl
        from zoo_core.config import ModuleConfig

        if os.environ.get("ZOO_TEST_IMPORT_MARKER"):
            open(os.environ["ZOO_TEST_IMPORT_MARKER"], "w").write("imported")


        @hookimpl
        def zoo_register_components(register):
            register("mixer", "leaky_mean", factory="zoo_leaky.impl:LeakyMean", config=ModuleConfig,
                     summary="leaks padding")
        ''', '''
        import torch


        class LeakyMean(torch.nn.Module):
            def __init__(self, cfg):
                super().__init__()
                self.dim = cfg.dim

            def forward(self, x, mask):
                return x + x.mean(dim=1, keepdim=True)  # averages padding in: fails the contract
        '''),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """zoo-example and three misbehaving plugins, installed by one pip call into a folder."""
    root = tmp_path_factory.mktemp("thirdparty")
    sources = [make_dist(root, dist, module, {"__init__.py": source, **({"impl.py": impl[0]} if impl else {})},
                         "0.3.1") for dist, (module, source, *impl) in BROKEN.items()]
    return pip_install_target(root / "site", EXAMPLE, *sources)


def zoo_with(site, *args, **env):
    return run_zoo(*args, env={"PYTHONPATH": str(site), **env})


# ---- the example plugin ------------------------------------------------------------------
def test_example_plugin_passes_its_own_tests(site):
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(site)}, cwd=EXAMPLE)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "16 passed" in r.stdout


def test_zoo_check_a_distribution_passes_and_names_its_components(site):
    r = zoo_with(site, "check", "zoo-example")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [l for l in r.stdout.splitlines() if "zoo-example==0.1.0" in l]
    assert len(rows) == 12 and all(" pass " in l for l in rows)  # 2 components x 6 checks
    assert {"mixer:token_shift", "pool:power_mean"} <= {l.split()[1] for l in rows}
    assert "2 component(s), 12 checks: all passed" in r.stdout


def test_zoo_check_one_component_with_config_and_a_failing_one(site):
    r = zoo_with(site, "check", "pool:power_mean", "powers=[1,3,max]", "--dim", "8")
    assert r.returncode == 0 and "1 component(s), 6 checks: all passed" in r.stdout, r.stdout + r.stderr
    r = zoo_with(site, "check", "zoo-leaky")
    assert r.returncode == 1
    failed = [l for l in r.stdout.splitlines() if " FAIL " in l]
    # a mean over padded positions changes with the padding and with the side it is on
    assert len(failed) == 2 and all("padding" in l and "mixer:leaky_mean" in l for l in failed)
    assert "6 checks: 2 failed" in r.stdout


def test_zoo_check_reports_a_plugin_that_failed_to_register(site):
    r = zoo_with(site, "check", "zoo-badconfig")
    assert r.returncode == 1
    assert "FAIL zoo-badconfig" in r.stdout and "config must be a pydantic model class" in r.stdout


@pytest.mark.parametrize("target, message", [
    ("zoo-exampel", "did you mean 'zoo-example'?"),
    ("mixer:tokn_shift", "did you mean 'token_shift'?"),
    ("pool:power_mean heads=2", None),
])
def test_zoo_check_unknown_targets_exit_2(site, target, message):
    r = zoo_with(site, "check", *target.split())
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if not l.startswith("warning: ")]  # the broken plugins warn
    assert len(errors) == 1 and errors[0].startswith("error: "), r.stderr
    assert message in errors[0] if message else "unknown field for pool:power_mean" in errors[0]


# ---- robustness --------------------------------------------------------------------------
def test_invalid_config_and_double_registration_are_isolated_and_reported(site):
    r = zoo_with(site, "list")
    assert r.returncode == 0, r.stderr
    warnings = r.stderr.splitlines()
    bad = [l for l in warnings if "zoo-badconfig" in l]
    assert len(bad) == 1 and bad[0].startswith("warning: ")
    assert "config must be a pydantic model class" in bad[0] and "dict_configured" not in r.stdout
    twice = [l for l in warnings if "zoo-twice" in l]
    assert len(twice) == 1 and "pool:twice_pooled is registered twice by zoo-twice" in twice[0]
    listed = [l for l in r.stdout.splitlines() if "twice_pooled" in l]
    assert len(listed) == 1 and "first registration" in listed[0]  # the first one is kept
    assert "token_shift" in r.stdout and "lambda" in r.stdout  # everyone else works
    r = zoo_with(site, "plugins")
    rows = {l.strip("│ ").split()[0]: l for l in r.stdout.splitlines() if l.strip("│ ").startswith("zoo-")}
    assert "TypeError: mixer:dict_configured: config must be a pydantic" in rows["zoo-badconfig"]
    assert "registered twice by zoo-twice" in rows["zoo-twice"] and "pool:twice_pooled" in rows["zoo-twice"]


def test_help_runs_no_plugin_discovery(site, tmp_path):
    """A plugin that imports torch at import time must not slow zoo --help: discovery (which
    imports every plugin) must not run at all. zoo-leaky writes a marker when imported;
    zoo list proves that it would."""
    marker = tmp_path / "imported"
    for args in (["--help"], ["check", "--help"], ["new-plugin", "--help"], ["build", "--help"]):
        r = zoo_with(site, *args, ZOO_TEST_IMPORT_MARKER=str(marker))
        assert r.returncode == 0 and "Usage" in r.stdout, r.stderr
        assert not marker.exists(), f"zoo {' '.join(args)} imported plugins"
    zoo_with(site, "list", "mixer:*", ZOO_TEST_IMPORT_MARKER=str(marker))
    assert marker.read_text() == "imported"


# ---- pinning -----------------------------------------------------------------------------
def test_requirements_lines_pin_every_plugin_distribution(site):
    r = zoo_with(site, "plugins", "--requirements")
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    pins = {}
    for line in lines:
        req = Requirement(line)  # raises on anything pip could not read
        (spec,) = req.specifier
        assert spec.operator == "==" and not req.extras and req.marker is None
        pins[req.name] = spec.version
    installed = {d.metadata["Name"]: d.version for d in metadata.distributions(path=[str(site)])}
    installed.update({ep.dist.name: ep.dist.version for ep in metadata.entry_points(group="zoo")})
    assert pins == installed
    assert pins["zoo-example"] == "0.1.0" and pins["zoo-nlp"] == metadata.version("zoo-nlp")


def test_model_trained_with_the_example_plugin_records_and_needs_it(site, tmp_path):
    rows = [(w, lang) for lang, words in (("en", ["the", "house", "water", "friend", "night", "green"]),
                                          ("de", ["das", "haus", "wasser", "freund", "nacht", "grün"]))
            for w in words]
    data = write_tsv(tmp_path / "tiny.tsv", rows * 4)
    r = zoo_with(site, "train", f"data={data}", "dim=16", "mixer=token_shift", "pool=power_mean",
                 "train.epochs=1", "train.batch_size=8", "data.valid_fraction=0.25", "--no-progress",
                 "--out", tmp_path / "model")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert "zoo-example==0.1.0" in config["requirements"]
    assert "zoo_example" not in json.dumps(config)  # a distribution, never an import path
    assert "zoo-example==0.1.0" in (tmp_path / "model" / "README.md").read_text()
    r = zoo_with(site, "predict", tmp_path / "model", "haus")
    assert r.returncode == 0 and r.stdout.split()[:2] in (["haus", "en"], ["haus", "de"]), r.stdout + r.stderr
    import zoo_core  # this process does not see the plugin: loading says what to install

    with pytest.raises(zoo_core.ZooError, match=r"run: pip install 'zoo-example>=0\.1\.0'"):
        zoo_core.load(tmp_path / "model")
