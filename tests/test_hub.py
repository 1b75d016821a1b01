"""The Hub: push with zoo push, pull through a real mirror (olah), hf: models and components,
revision pinning, offline cache, refused pickle, one-line errors.

huggingface_hub reads HF_ENDPOINT / HF_HUB_CACHE / HF_HUB_OFFLINE at import time, so most
tests run the real CLI in-process with those constants patched (``cli``); two run ``zoo``
subprocesses with the environment variables themselves, as a user's shell would.
"""
import json
import shutil

import pytest
import torch

import zoo_core
from zoo_core import ZooError
from zoo_core import load as load_model
from zoo_core.refs import parse_hub, parse_ref

from helpers import run_zoo
from hub_server import Olah, UploadStandIn, commit_folder, commit_files

pytest.importorskip("olah")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    olah = Olah(root / "olah").start()
    upload = UploadStandIn(olah.mirrors).start()
    try:
        yield {"olah": olah, "upload": upload, "mirrors": olah.mirrors, "cache": root / "cache"}
    finally:
        upload.stop()
        olah.stop()


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli(*args, endpoint=URL, offline=False, cache=DIR)`` -> CompletedProcess-like result."""
    import subprocess

    from huggingface_hub import constants

    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    from zoo_cli.main import main

    if not are_progress_bars_disabled():
        disable_progress_bars()
        request_finalizer = True
    else:
        request_finalizer = False

    def run(*args, endpoint="http://127.0.0.1:9", offline=False, cache):
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setenv("HF_TOKEN", "zoo-test-token")
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code or 0
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    yield run
    if request_finalizer:
        enable_progress_bars()


def on(hub, endpoint="olah", cache=None):
    return {"endpoint": hub[endpoint].url, "cache": cache or hub["cache"]}


def env(hub, endpoint="olah", offline=False, cache=None):
    return {"HF_ENDPOINT": hub[endpoint].url, "HF_HUB_OFFLINE": "1" if offline else "0",
            "HF_HUB_CACHE": str(cache or hub["cache"]), "HF_TOKEN": "zoo-test-token",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}


def tiny(path, seed=0, labels=("a", "b")):
    torch.manual_seed(seed)
    model = zoo_core.build(["dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", f"seed={seed}"])
    model.labels = list(labels)
    model.save(path)
    return model


def probs(model, text="hello zoo"):
    return model.predict([text], top_k=2)[0]["top"]


def same_top(stdout, model):
    got, want = json.loads(stdout)["top"], probs(model)
    return [l for l, _ in got] == [l for l, _ in want] and all(abs(a[1] - b[1]) < 1e-5 for a, b in zip(got, want))


def one_line_error(result, *needles):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_push_uploads_only_checkpoint_files_and_pulls_back_through_olah(hub, cli, tmp_path):
    model = tiny(tmp_path / "m")
    (tmp_path / "m" / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (tmp_path / "m" / "training_state").mkdir()
    (tmp_path / "m" / "training_state" / "state.safetensors").write_bytes(b"x")
    r = cli("push", tmp_path / "m", "team/pushed", "--message", "first model", **on(hub, "upload"))
    assert r.returncode == 0, r.stderr
    repo, branch, files, message, sha = hub["upload"].commits[-1]
    assert (repo, branch, message) == ("team/pushed", "main", "first model")
    assert files == ["README.md", "config.json", "metrics.jsonl", "model.safetensors"]
    assert f"/team/pushed/commit/{sha}" in r.stdout

    r = cli("pull", "team/pushed", "--out", tmp_path / "copy", **on(hub))
    assert r.returncode == 0, r.stderr
    assert f"commit {sha}" in r.stdout
    for name in files:
        assert (tmp_path / "copy" / name).read_bytes() == (tmp_path / "m" / name).read_bytes()
    assert not (tmp_path / "copy" / "training_state").exists()
    assert probs(load_model(tmp_path / "copy")) == probs(model)

    r = run_zoo("predict", "hf:team/pushed", "hello zoo", "--top-k", "2", "--json", env=env(hub))  # a real shell
    assert r.returncode == 0, r.stderr
    assert same_top(r.stdout, model)


def test_push_to_a_branch_and_refusals(hub, cli, tmp_path):
    tiny(tmp_path / "m")
    r = cli("push", tmp_path / "m", "team/branchy", "--revision", "dev", **on(hub, "upload"))
    assert r.returncode == 0, r.stderr
    assert hub["upload"].commits[-1][:2] == ("team/branchy", "dev")
    (tmp_path / "empty").mkdir()
    before = len(hub["upload"].requests)
    one_line_error(cli("push", tmp_path / "empty", "team/x", **on(hub, "upload")), "not a zoo checkpoint")
    data = (tmp_path / "m" / "model.safetensors").read_bytes()
    (tmp_path / "m" / "model.safetensors").write_bytes(data[:-8])
    one_line_error(cli("push", tmp_path / "m", "team/x", **on(hub, "upload")), "sha256 does not match")
    assert len(hub["upload"].requests) == before  # refused before any request


def test_revision_pinning_and_single_components(hub, cli, tmp_path):
    old, new = tiny(tmp_path / "old", seed=1), tiny(tmp_path / "new", seed=2)
    sha_old = commit_folder(hub["mirrors"], "team/pinned", tmp_path / "old", "v1")
    sha_new = commit_folder(hub["mirrors"], "team/pinned", tmp_path / "new", "v2")
    for ref, model in ((f"hf:team/pinned@{sha_old}", old), ("hf:team/pinned", new), ("hf:team/pinned@main", new)):
        r = cli("predict", ref, "hello zoo", "--top-k", "2", "--json", **on(hub))
        assert r.returncode == 0, r.stderr
        assert same_top(r.stdout, model), ref

    out = tmp_path / "composed"
    r = cli("build", f"embed=hf:team/pinned@{sha_old}", "embed.freeze=true", "mixer=hf:team/pinned",
                "pool=hf:team/pinned#pool", "dim=16", "--out", out, **on(hub))
    assert r.returncode == 0, r.stderr
    assert "(frozen)" in r.stdout
    composed = load_model(out)  # a saved composed model loads without the Hub
    spec = json.loads((out / "config.json").read_text())["spec"]["model"]
    assert spec["embed"]["source"] == {"repo": "team/pinned", "revision": sha_old, "sha": sha_old, "component": "embed"}
    assert spec["mixer"][0]["source"]["revision"] == "main" and spec["mixer"][0]["source"]["sha"] == sha_new
    assert spec["pool"]["source"]["component"] == "pool"
    for mine, src in ((composed.embed, old.embed), (composed.mixers[0], new.mixers[0]), (composed.pool, new.pool)):
        a, b = mine.state_dict(), src.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not any(p.requires_grad for p in composed.embed.parameters())
    assert all(p.requires_grad for p in composed.mixers.parameters())

    from zoo_core.card import render_card

    card = render_card(composed)
    assert f"commit `{sha_old}`" in card and f"embed=hf:team/pinned@{sha_old}#embed" in card


def test_component_errors(hub, cli, tmp_path):
    tiny(tmp_path / "m")
    commit_folder(hub["mirrors"], "team/comp", tmp_path / "m")
    one_line_error(cli("build", "embed=hf:team/comp", "dim=32", **on(hub)), "width 16", "set dim=16")
    one_line_error(cli("build", "embed=hf:team/comp#pool", "dim=16", **on(hub)), "is a pool, not a embed")
    one_line_error(cli("build", "mixer=hf:team/comp#mixer.3", "dim=16", **on(hub)), "no part 'mixer.3'")


def test_repository_and_revision_not_found(hub, cli, tmp_path):
    tiny(tmp_path / "m")
    commit_folder(hub["mirrors"], "team/exists", tmp_path / "m")
    one_line_error(cli("pull", "team/missing", **on(hub)), "hf:team/missing@main", "not found")
    one_line_error(cli("pull", "team/exists@nope", **on(hub)), "hf:team/exists@nope",
                   "no revision 'nope'", "main")
    one_line_error(cli("predict", "hf:team/missing", "x", **on(hub)), "hf:team/missing@main")
    one_line_error(cli("build", "embed=hf:team/exists@nope", **on(hub)), "embed=hf:team/exists@nope",
                   "no revision")
    one_line_error(cli("pull", "not-a-repo", **on(hub)), "not a Hub reference")


def test_pickle_in_a_repo_is_never_downloaded_or_opened(hub, cli, tmp_path):
    tiny(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["weights"] = {"file": "model.bin", "sha256": None}
    commit_files(hub["mirrors"], "team/evil", {
        "config.json": json.dumps(config).encode(), "model.bin": b"\x80\x04 not really a pickle",
        "evil.pkl": b"\x80\x04", "loader.py": b"import os"})
    cache = tmp_path / "cache"
    one_line_error(cli("predict", "hf:team/evil", "x", **on(hub, cache=cache)), "never loads pickle")
    downloaded = {p.name for p in cache.rglob("*") if p.is_file() and "snapshots" in p.parts}
    assert downloaded == {"config.json"}


def test_offline_cache_only(cli, tmp_path):
    """A hand-built Hub cache and HF_HUB_OFFLINE=1: cached revisions work, nothing else is tried."""
    model = tiny(tmp_path / "m")
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = tmp_path / "cache" / "models--team--offline"
    snap = repo_dir / "snapshots" / sha
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "README.md"):
        shutil.copyfile(tmp_path / "m" / name, snap / name)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(sha)
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    r = run_zoo("predict", "hf:team/offline", "hello zoo", "--top-k", "2", "--json", env=offline, timeout=60)
    assert r.returncode == 0, r.stderr
    assert same_top(r.stdout, model)
    for ref in ("hf:team/offline", f"hf:team/offline@{sha}"):
        r = cli("predict", ref, "hello zoo", "--top-k", "2", "--json", offline=True, cache=tmp_path / "cache")
        assert r.returncode == 0, r.stderr
        assert same_top(r.stdout, model)
    r = cli("pull", "team/offline", offline=True, cache=tmp_path / "cache")
    assert r.returncode == 0 and f"commit {sha}" in r.stdout, r.stderr
    one_line_error(cli("pull", "team/offline@dev", offline=True, cache=tmp_path / "cache"), "hf:team/offline@dev", "HF_HUB_OFFLINE=1",
                   "zoo pull team/offline@dev")
    one_line_error(cli("build", "embed=hf:team/other", offline=True, cache=tmp_path / "cache"), "hf:team/other@main", "not in the local")
    (snap / "model.safetensors").unlink()
    one_line_error(cli("predict", "hf:team/offline", "x", offline=True, cache=tmp_path / "cache"), "weights file missing")


def test_references_and_registry():
    ref = parse_ref("hf:org/name@v1")
    assert (ref.repo, ref.revision, ref.part) == ("org/name", "v1", None)
    assert (parse_hub("org/name@v1").repo, parse_hub("org/name@v1").revision) == ("org/name", "v1")
    assert parse_ref("hf:org/n.a-m_e@abc#mixer.1").part == "mixer.1"
    assert (parse_ref("zoo_example:shift").dist, parse_ref("zoo_example:shift").name) == ("zoo-example", "shift")
    assert parse_ref("cross_entropy+0.1*conicity").is_expression
    for bad in ("hf:name", "hf:org/name@a@b", "hf:/x"):
        with pytest.raises(ZooError, match="not a Hub reference"):
            parse_ref(bad)
    with pytest.raises(ZooError, match="not a Hub reference"):
        parse_ref("hf:org/name#embed", allow_part=False)
    reg = zoo_core.get_registry()
    with pytest.raises(ZooError, match="never looked up in the registry; write hf:org/name"):
        reg.resolve("embed", "org/name")
    with pytest.raises(ZooError, match="resolved when a model is composed"):
        reg.resolve("embed", "hf:org/name")


def test_the_model_pushes_and_loads_itself_in_the_hub_mixin_shape(hub, cli, monkeypatch, tmp_path):
    """``model.push_to_hub`` uploads what ``save_pretrained`` writes (weights, config, card);
    ``ZooModel.from_pretrained('hf:...')`` loads it strictly and records the commit."""
    from huggingface_hub import constants

    from zoo_core.model import ZooModel

    model = tiny(tmp_path / "m")
    cli("list", **on(hub, "upload"))  # points huggingface_hub at the upload stand-in (monkeypatched constants)
    model.push_to_hub("team/mixin", message="from python")
    repo, branch, files, message, sha = hub["upload"].commits[-1]
    assert (repo, branch, message) == ("team/mixin", "main", "from python")
    assert files == ["README.md", "config.json", "model.safetensors"]
    for name, value in (("ENDPOINT", hub["olah"].url),
                        ("HUGGINGFACE_CO_URL_TEMPLATE", hub["olah"].url + "/{repo_id}/resolve/{revision}/{filename}")):
        monkeypatch.setattr(constants, name, value)
    again = ZooModel.from_pretrained("hf:team/mixin")
    assert again.hub_source == {"repo": "team/mixin", "revision": "main", "sha": sha}
    assert probs(again) == probs(model) and again.labels == model.labels


def test_a_head_is_a_hub_part_like_the_others(hub, cli, tmp_path):
    """head=hf:ORG/NAME#head pulls the output layer alone (weights and config, pinned)."""
    source = tiny(tmp_path / "m", seed=3)
    commit_folder(hub["mirrors"], "team/heady", tmp_path / "m")
    out = tmp_path / "composed"
    r = cli("build", "embed=hf:team/heady", "mixer=hf:team/heady", "pool=hf:team/heady", "head=hf:team/heady#head",
            "dim=16", "--out", out, **on(hub))
    assert r.returncode == 0, r.stderr
    composed = load_model(out)
    spec = json.loads((out / "config.json").read_text())["spec"]["model"]
    assert spec["head"]["source"]["component"] == "head" and spec["head"]["name"] == "linear"
    a, b = composed.head.state_dict(), source.head.state_dict()
    assert a.keys() == b.keys() == {"weight", "bias"} and all(torch.equal(a[k], b[k]) for k in a)
    composed.labels = source.labels  # built, not trained: the labels come with data; the network is the source's
    assert [l for l, _ in probs(composed)] == [l for l, _ in probs(source)]
    assert [p for _, p in probs(composed)] == pytest.approx([p for _, p in probs(source)], abs=1e-6)
    three = zoo_core.build(["dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "num_classes=3"])
    three.labels = ["a", "b", "c"]
    three.save(tmp_path / "three")
    commit_folder(hub["mirrors"], "team/three", tmp_path / "three")
    one_line_error(cli("build", "head=hf:team/three", "dim=16", **on(hub)), "scores 3 labels", "2 classes")
    one_line_error(cli("build", "embed=hf:team/heady#head", "dim=16", **on(hub)), "is a head, not a embed")
