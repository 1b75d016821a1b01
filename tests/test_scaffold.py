"""``zoo new-plugin``: names are validated, nothing is overwritten, and a freshly scaffolded
plugin of every kind installs with ``pip install -e`` into a new virtual environment, passes
its own tests unchanged, and is usable by ``zoo build`` and ``zoo check`` at once."""
import ast
import fnmatch
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from helpers import run_zoo
from zoo_core.errors import ZooError
from zoo_core.registry import KINDS
import zoo_tools.scaffold
from zoo_tools.scaffold import FILES, PluginNames, render, scaffold, validate_name


@pytest.mark.parametrize("raw, names", [
    ("fancy", ("fancy", "zoo-fancy", "zoo_fancy", "Fancy")),
    ("token-shift", ("token_shift", "zoo-token-shift", "zoo_token_shift", "TokenShift")),
    ("zoo-gated_conv2", ("gated_conv2", "zoo-gated-conv2", "zoo_gated_conv2", "GatedConv2")),
])
def test_names(raw, names):
    n = PluginNames.of(raw)
    assert (n.component, n.dist, n.package, n.title) == names


@pytest.mark.parametrize("raw, message", [
    ("", "a plugin needs a name"),
    ("Fancy", "did you mean 'fancy'?"),
    ("my plugin!", "did you mean 'my_plugin'?"),
    ("9lives", "starting with a letter"),
    ("a__b", "single '_' or '-'"),
    ("mixer:fancy", "did you mean 'mixer_fancy'?"),
    ("class", "is a Python keyword"),
    ("configs", "reserved"),
    ("x" * 41, "at most 40 characters"),
])
def test_bad_names_are_refused_with_a_fix(raw, message):
    with pytest.raises(ZooError, match=message):
        validate_name(raw)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_complete_valid_package(kind):
    files = render(PluginNames.of("fancy"), kind, "0.1.0")
    assert set(files) == {"pyproject.toml", "README.md", "zoo_fancy/__init__.py", "zoo_fancy/configs.py",
                          "zoo_fancy/fancy.py", "tests/test_fancy_contract.py", "tests/test_fancy.py"}
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "zoo-fancy"
    assert project["project"]["entry-points"]["zoo"] == {"zoo_fancy": "zoo_fancy"}
    assert project["project"]["dependencies"] == ["zoo-nlp>=0.1.0"]
    for path, text in files.items():
        if path.endswith(".py"):
            tree = ast.parse(text, path)
            assert ast.get_docstring(tree), f"{path} has no docstring"
    for torch_free in ("zoo_fancy/__init__.py", "zoo_fancy/configs.py"):
        assert not imported_modules(files[torch_free]) & {"torch", "numpy"}, torch_free
    assert "torch" in imported_modules(files["zoo_fancy/fancy.py"])
    method = files["zoo_fancy/fancy.py"]
    assert "Shape contract" in method or "Contract" in method
    docstring = ast.get_docstring(ast.parse(method)).splitlines()
    assert [l.split(":")[0] for l in docstring if l.startswith(("Post:", "Paper:"))] == ["Post", "Paper"]
    assert "post=" not in files["zoo_fancy/__init__.py"]  # the citation lives in the method's docstring only
    assert "assert_contract" in files["tests/test_fancy_contract.py"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_package_pyflakes_passes(kind, tmp_path):
    """The templates are code nobody runs until a scaffold is made: lint what they render."""
    root = scaffold("fancy", kind, tmp_path)
    r = subprocess.run([sys.executable, "-m", "pyflakes", str(root)], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout, r.stdout + r.stderr


def test_every_template_is_rendered_and_shipped_as_package_data():
    templates = Path(zoo_tools.scaffold.__file__).parent / "templates"
    on_disk = {p.relative_to(templates).as_posix() for p in templates.rglob("*") if p.is_file()}
    used = {t.replace("KIND", kind) for t in FILES for kind in KINDS}
    assert on_disk == used
    pyproject = tomllib.loads((Path(zoo_tools.__file__).parents[1] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["zoo_tools"]
    assert all(any(fnmatch.fnmatch(f"templates/{t}", pattern) for pattern in shipped) for t in on_disk)


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_scaffold_module_imports_neither_torch_nor_plugins():
    code = ("import sys, zoo_tools.scaffold; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('zoo_plugins')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_cli_errors_are_one_line_exit_2_and_nothing_is_overwritten(tmp_path):
    r = run_zoo("new-plugin", "Bad Name", "--out", tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == ["error: 'Bad Name': plugin names are lowercase letters and digits, separated "
                                     "by single '_' or '-', starting with a letter; did you mean 'bad_name'? "
                                     "(e.g. zoo new-plugin token_shift --kind mixer)"]
    r = run_zoo("new-plugin", "fancy", "--kind", "mixr", "--out", tmp_path)
    assert r.returncode == 2 and "did you mean 'mixer'?" in r.stderr
    r = run_zoo("new-plugin", "gru", "--out", tmp_path)
    assert r.returncode == 2 and "zoo-nlp already provides mixer:gru" in r.stderr
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "zoo-fancy").mkdir()
    (tmp_path / "zoo-fancy" / "mine.txt").write_text("keep me")
    r = run_zoo("new-plugin", "fancy", "--out", tmp_path)
    assert r.returncode == 2 and "already exists; refusing to overwrite" in r.stderr
    assert [p.name for p in (tmp_path / "zoo-fancy").iterdir()] == ["mine.txt"]


# ---- the real thing: a fresh virtual environment ------------------------------------------
PLUGINS = {"mixer": "fancy_mix", "embed": "fancy_embed", "pool": "fancy_pool", "loss": "fancy_loss",
           "optim": "fancy_optim"}


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new virtual environment that sees this one's packages (torch, zoo) through a .pth
    file, with one freshly scaffolded plugin of every kind installed by ``pip install -e``."""
    root = tmp_path_factory.mktemp("scaffold")
    r = run_zoo("new-plugin", "fancy_mix", "--kind", "mixer", "--out", root / "src")  # the CLI path once
    assert r.returncode == 0, r.stderr
    assert "zoo build mixer=fancy_mix" in r.stdout
    for kind, name in PLUGINS.items():
        if kind != "mixer":
            scaffold(name, kind, root / "src")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site_dir = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    parent_site = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so that this venv's own .pth files, e.g. zoo's editable install, run too
    Path(site_dir, "zz_parent_venv.pth").write_text(f"import site; site.addsitedir({parent_site!r})\n")
    editables = [arg for name in PLUGINS.values() for arg in ("-e", str(root / "src" / f"zoo-{name.replace('_', '-')}"))]
    r = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", *editables],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return root, python


def in_venv(venv, *args, **kwargs):
    root, python = venv
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([python, *map(str, args)], capture_output=True, text=True, env=env, cwd=root, timeout=300,
                          **kwargs)


def test_scaffolded_plugins_pass_their_own_tests_unchanged(venv):
    root, _ = venv
    r = in_venv(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sorted((root / "src").iterdir()))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "32 passed" in r.stdout, r.stdout[-500:]  # mixer 6, embed 7, pool 6, loss 7, optim 6


def test_zoo_builds_with_every_scaffolded_component_at_once(venv):
    r = in_venv(venv, "-m", "zoo_cli", "build", *(f"{kind}={name}" for kind, name in PLUGINS.items()))
    assert r.returncode == 0, r.stderr
    for kind, name in PLUGINS.items():
        line = next(l for l in r.stdout.splitlines() if f" {name} " in l)
        assert f"zoo-{name.replace('_', '-')}==0.1.0" in line


def test_the_plugins_are_installed_in_the_venv_only(venv):
    """The check above is meaningful: this environment does not see the scaffolded plugins."""
    r = run_zoo("list", "*fancy*")
    assert r.returncode == 2 and "no component matches" in r.stderr
