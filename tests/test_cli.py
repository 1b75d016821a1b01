"""The command line as a new user meets it: summaries, listings, and one-line errors."""
import json
import subprocess
import sys

import pytest

from helpers import run_zoo


def test_build_prints_summary_with_packages_and_total():
    r = run_zoo("build", "embed=hash", "mixer=lambda", "pool=seed_attention", "loss=cross_entropy", "optim=smorms3")
    assert r.returncode == 0, r.stderr
    for word in ("embed", "hash", "mixer", "lambda", "pool", "seed_attention", "zoo-nlp==", "total"):
        assert word in r.stdout
    # hash keeps the default recipe's fields when named again: num_bits * dim = 262144 * 64 parameters
    assert "16,777,216" in r.stdout
    assert "layer_norm" in r.stdout  # one mixer: its norm


def test_build_shows_an_empty_mixer_stack():
    r = run_zoo("build")  # the default recipe has no mixer
    assert r.returncode == 0, r.stderr
    assert "(none: mixer=[])" in r.stdout and "layer_norm" not in r.stdout
    assert "16,777,216" in r.stdout  # hash: 2**18 rows * 64


@pytest.mark.parametrize("args,expected", [
    (["mixer=lamda"], ["mixer=lamda: unknown mixer 'lamda'; did you mean 'lambda'?", "choices:"]),
    (["mixer=lambda", "mixer.haeds=4"], ["mixer.haeds: unknown field for mixer:lambda; did you mean 'heads'?"]),
    (["mixer=identity", "mixer.haeds=4"], ["mixer.haeds: unknown field for mixer:identity",
                                           "'heads' is a field of mixer:", "e.g. mixer="]),
    (["mixer.heads=4"], ["mixer.heads: the mixer stack is empty (mixer=[]), so it has no fields; "
                         "choose mixers first, e.g. mixer=lambda mixer.heads=..."]),  # the default has no mixer
    (["mixer=[]", "mixer.1.heads=4"], ["mixer.1.heads: the mixer stack is empty"]),
    (["embed.num_bits=-3"], ["embed.num_bits: input should be greater than 0 (got -3)"]),
    (["foo"], ["'foo': not an override; write KEY=VALUE"]),
    (["mixer=lambda", "mixer.heads=5"], ["heads=5 must divide dim=64"]),
    (["recipe=defualt"], ["recipe=defualt: unknown recipe; did you mean 'default'?"]),
    (["dimm=3"], ["dimm: unknown key 'dimm'; did you mean 'dim'?"]),
])
def test_bad_input_gives_one_line_errors_without_traceback(args, expected):
    r = run_zoo("build", *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    for text in expected:
        assert text in r.stderr
    assert all(line.startswith("error: ") for line in r.stderr.strip().splitlines())


def test_all_problems_are_reported_at_once():
    r = run_zoo("build", "mixer=lamda", "embed.num_bits=-3", "foo", "pool.heads=0")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert any("pool.heads" in l for l in lines)


def test_build_out_writes_a_loadable_untrained_model(tmp_path):
    r = run_zoo("build", "mixer=[lambda,identity]", "mixer.0.heads=2", "dim=32", "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "model.safetensors").is_file()
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert [m["name"] for m in config["spec"]["model"]["mixer"]] == ["lambda", "identity"]
    assert config["spec"]["model"]["mixer"][0]["config"]["heads"] == 2
    assert config["spec"]["model"]["embed"]["config"]["dim"] == 32
    import zoo_core

    model = zoo_core.load(tmp_path / "m")
    assert len(model.mixers) == 2


def test_list_with_wildcards_and_info_show_fields():
    r = run_zoo("list", "mixer:*")
    assert r.returncode == 0 and "lambda" in r.stdout and "hash" not in r.stdout
    r = run_zoo("list", "*lambda*")
    assert "lambda" in r.stdout and "seed_attention" not in r.stdout
    r = run_zoo("list", "nothing:*")
    assert r.returncode == 2 and "no component matches" in r.stderr
    r = run_zoo("info", "embed:hash")
    assert r.returncode == 0
    for text in ("num_bits", "200", "Hashing Helps", "Hash Embeddings"):
        assert text in r.stdout


def test_plugins_requirements_are_pinnable():
    r = run_zoo("plugins", "--requirements")
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    assert any(l.startswith("zoo-nlp==") for l in lines)
    assert all("==" in l for l in lines)


@pytest.mark.parametrize("args", [["--help"], ["list"], ["info", "mixer:lambda"], ["info", "mixer:self_attention"],
                                  ["plugins"]])
def test_help_list_info_do_not_import_torch(args):
    code = ("import sys\nfrom zoo_cli.main import main\nsys.argv=['zoo']\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print('TORCH_LOADED' if 'torch' in sys.modules else 'TORCH_ABSENT', file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "TORCH_ABSENT" in r.stderr, r.stderr


def test_zoo_without_arguments_shows_help():
    r = run_zoo()
    assert "Usage" in r.stdout + r.stderr and "build" in r.stdout + r.stderr


def test_unknown_command_and_option_are_usage_errors_without_traceback():
    r = run_zoo("trian")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "No such command 'trian'" in r.stderr and "train" in r.stderr
    r = run_zoo("build", "--outt", "x")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--outt" in r.stderr


def test_info_shows_the_citation_of_the_method_docstring():
    r = run_zoo("info", "mixer:self_attention")
    assert r.returncode == 0, r.stderr
    post = next(l for l in r.stdout.splitlines() if l.startswith("post:"))
    paper = next(l for l in r.stdout.splitlines() if l.startswith("paper:"))
    assert '"Attention: Drop Heads Not Dimensions"' in post and "Let's Make AI Green (Again)" in post
    assert "arXiv:1706.03762" in paper and "2020.findings-emnlp.178" in paper
