"""The Hugging Face Hub: push checkpoints, pull them, take single pretrained components out.

Every request goes through huggingface_hub's public API, so the same code talks to
huggingface.co and to any ``HF_ENDPOINT`` (a mirror, a private Hub), and honours
``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_TOKEN``.

References are ``hf:ORG/NAME[@REVISION][#PART]``: a branch, tag or commit sha (default
``main``), and for a single component which part of the source model to take (``embed``,
``pool``, ``mixer.1``; default: the part of the asked-for kind).

Safety: only the files in ``PULL_FILES`` are ever downloaded (allow-list, so pickle files
and code in a repository never reach the disk); weights are read with safetensors after
their sha256 is checked against config.json; no import path is ever read from a download;
plugin distributions are checked before anything is built; the resolved commit sha is
recorded, so a branch that moved later is visible. Torch is not imported at module level.
"""
from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ZooError

PREFIX = "hf:"
PUSH_FILES = ("model.safetensors", "config.json", "README.md", "metrics.jsonl")
PULL_FILES = PUSH_FILES + ("tokenizer.json",)  # tokenizer.json: encoders in the Hub's standard layout
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class HubRef:
    repo: str
    revision: str | None = None
    part: str | None = None

    def __str__(self) -> str:
        return (f"{PREFIX}{self.repo}" + (f"@{self.revision}" if self.revision else "")
                + (f"#{self.part}" if self.part else ""))


@dataclass(frozen=True)
class Snapshot:
    ref: HubRef
    path: Path
    sha: str


def is_hub_ref(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


def parse_ref(text: str, *, allow_part: bool = False) -> HubRef:
    """``hf:ORG/NAME[@REV][#PART]`` (the ``hf:`` is optional) -> HubRef."""
    body = text[len(PREFIX):] if text.startswith(PREFIX) else text
    body, _, part = body.partition("#")
    repo, _, revision = body.partition("@")
    if not _REPO_ID.match(repo) or (part and not allow_part) or "@" in revision:
        example = "hf:ORG/NAME[@REVISION]" + ("[#PART]" if allow_part else "")
        raise ZooError(f"'{text}': not a Hub reference; write {example}, e.g. hf:my-org/langid-small@main")
    return HubRef(repo, revision or None, part or None)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


# ---- errors ----------------------------------------------------------------------------
def _revision_exists_elsewhere(ref: HubRef) -> list[str] | None:
    """Branch and tag names when the repository exists (some mirrors answer a missing revision
    as a missing repository); None when it does not or cannot be asked."""
    from huggingface_hub import HfApi

    try:
        refs = HfApi().list_repo_refs(ref.repo)
    except Exception:
        return None
    return [b.name for b in refs.branches] + [t.name for t in refs.tags]


@contextmanager
def hub_errors(ref: HubRef, action: str = "download"):
    """Turn huggingface_hub's exceptions into one-line ZooErrors naming repo, revision and fix."""
    from huggingface_hub import errors as E

    rev = ref.revision or "main"
    where = f"{PREFIX}{ref.repo}@{rev}"
    try:
        yield
    except ZooError:
        raise
    except E.GatedRepoError:
        raise ZooError(f"{where}: the repository is gated; accept its conditions on {_endpoint()}/{ref.repo} "
                       f"and log in (hf auth login, or set HF_TOKEN)") from None
    except E.RevisionNotFoundError:
        raise ZooError(f"{where}: no revision '{rev}' in {ref.repo}; give a branch, tag or commit sha that "
                       f"exists (see {_endpoint()}/{ref.repo}/tree/main)") from None
    except E.RepositoryNotFoundError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if action == "download" and ref.revision and ref.revision != "main":
            names = _revision_exists_elsewhere(ref)
            if names is not None:
                raise ZooError(f"{where}: no revision '{rev}' in {ref.repo}; give a branch, tag or commit "
                               f"sha that exists (branches and tags: {', '.join(sorted(names)) or 'none'})") from None
        auth = " or is private: log in with hf auth login, or set HF_TOKEN" if status == 401 else ""
        raise ZooError(f"{where}: repository {ref.repo} not found on {_endpoint()}{auth}; check the "
                       f"name (ORG/NAME){' or create it with zoo push' if action == 'push' else ''}") from None
    except E.LocalEntryNotFoundError:
        if _offline():
            raise ZooError(f"{where}: not in the local Hub cache and HF_HUB_OFFLINE=1 forbids downloading; "
                           f"run zoo pull {ref.repo}{'@' + ref.revision if ref.revision else ''} once with "
                           f"network access (HF_HUB_OFFLINE unset)") from None
        raise ZooError(f"{where}: cannot reach {_endpoint()} and the files are not cached; check the network "
                       f"or HF_ENDPOINT, or use a cached revision with HF_HUB_OFFLINE=1") from None
    except E.OfflineModeIsEnabled:
        raise ZooError(f"{where}: HF_HUB_OFFLINE=1 is set, so zoo cannot {action}; unset it to reach "
                       f"{_endpoint()}") from None
    except E.HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            raise ZooError(f"{where}: not authorized to {action} (HTTP {status}); log in with hf auth login "
                           f"or set HF_TOKEN to a token with {'write' if action == 'push' else 'read'} "
                           f"access to {ref.repo}") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ZooError(f"{where}: the Hub refused the {action} ({first})") from None
    except (OSError, ConnectionError) as e:
        raise ZooError(f"{where}: cannot reach {_endpoint()} ({type(e).__name__}); check the network or "
                       f"HF_ENDPOINT") from None
    except Exception as e:  # httpx2 transport errors have no common public base here
        if type(e).__module__.startswith(("httpx", "httpcore")):
            raise ZooError(f"{where}: cannot reach {_endpoint()} ({type(e).__name__}); check the network or "
                           f"HF_ENDPOINT") from None
        raise


# ---- pull ------------------------------------------------------------------------------
def download(ref: HubRef, out: str | Path | None = None) -> Snapshot:
    """Fetch the allowed files of ``ref`` into the Hub cache (and copy them to ``out``)."""
    from huggingface_hub import snapshot_download

    with hub_errors(ref):
        path = Path(snapshot_download(ref.repo, revision=ref.revision, allow_patterns=list(PULL_FILES)))
    sha = path.name  # the cache keeps each commit in snapshots/<sha>
    if not (path / "config.json").is_file():
        hint = (" (HF_HUB_OFFLINE=1: only cached files are visible; pull it once with network access)"
                if _offline() else "")
        raise ZooError(f"{PREFIX}{ref.repo}@{ref.revision or 'main'}: no config.json at commit {sha[:12]}; "
                       f"this is not a zoo model or encoder repository{hint}")
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name in PULL_FILES:
            if (path / name).is_file():
                shutil.copyfile(path / name, out / name)  # follows the cache's symlinks
        path = out
    return Snapshot(ref, path, sha)


def load(ref_text: str, registry=None):
    """A whole zoo model from ``hf:ORG/NAME[@REV]``; ``model.hub_source`` records the commit."""
    from .checkpoint import load_model

    ref = parse_ref(ref_text)
    snap = download(ref)
    model = load_model(snap.path, registry)
    model.hub_source = {"repo": ref.repo, "revision": ref.revision or "main", "sha": snap.sha}
    return model


# ---- push ------------------------------------------------------------------------------
def check_pushable(model_dir: str | Path) -> list[Path]:
    """The checkpoint files to upload, after proving the folder is a loadable zoo model."""
    from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_model, read_config

    model_dir = Path(model_dir)
    config = read_config(model_dir)
    if config.get("weights", {}).get("file", WEIGHTS_FILE) != WEIGHTS_FILE:
        raise ZooError(f"{model_dir / CONFIG_FILE}: weights must be in {WEIGHTS_FILE}; re-save the model with zoo")
    load_model(model_dir)  # strict: sha256, every tensor, plugin requirements
    return [model_dir / name for name in PUSH_FILES if (model_dir / name).is_file()]


def push(model_dir: str | Path, repo: str, *, revision: str | None = None, private: bool = False,
         message: str | None = None):
    """Create ``repo`` if needed and upload the checkpoint files in one commit. Returns CommitInfo."""
    from huggingface_hub import HfApi

    ref = parse_ref(repo)
    files = check_pushable(model_dir)
    api = HfApi()
    with hub_errors(ref, "push"):
        api.create_repo(ref.repo, private=private, exist_ok=True)
        if ref.revision and ref.revision != "main" or revision and revision != "main":
            api.create_branch(ref.repo, branch=revision or ref.revision, exist_ok=True)
        return api.upload_folder(
            repo_id=ref.repo, folder_path=str(model_dir), revision=revision or ref.revision,
            allow_patterns=[f.name for f in files],
            commit_message=message or f"Upload zoo model ({', '.join(f.name for f in files)})")


# ---- single pretrained components ------------------------------------------------------
ATTRS = {"embed": "embed", "pool": "pool", "loss": "loss"}


def _parts_of(spec: dict) -> dict[str, tuple[str, dict]]:
    """label -> (state-dict prefix, component spec) of a saved model spec."""
    model = spec["model"]
    mixers = model.get("mixer", [])
    out = {kind: (ATTRS[kind], model[kind]) for kind in ATTRS if kind in model}
    for i, m in enumerate(mixers):
        out[f"mixer.{i}"] = (f"mixers.{i}", m)
    if len(mixers) == 1:
        out["mixer"] = ("mixers.0", mixers[0])
    if "optim" in model:
        out["optim"] = ("", model["optim"])
    return out


def resolve_component(kind: str, name: str, fields: dict, dim: int, registry, prefix: str):
    """``kind=hf:ORG/NAME[@REV][#PART]`` -> (ComponentSpec with ``source``, problems)."""
    from .checkpoint import check_requirements, read_config
    from .spec import ComponentSource, resolve_component as resolve_local

    where = f"{prefix}={name}"
    try:
        ref = parse_ref(name, allow_part=True)
        snap = download(ref)
        config = read_config(snap.path)
        parts = _parts_of(config["spec"])
        label = ref.part or kind
        if label not in parts:
            same = [p for p in parts if p.split(".")[0] == kind and p != kind]
            hint = (f"; it has {len(same)} {kind}s: pick one with " + ", ".join(f"{PREFIX}{ref.repo}#{p}" for p in same)
                    if same else f"; its parts: {', '.join(sorted(parts))}")
            raise ZooError(f"{where}: the model at commit {snap.sha[:12]} has no part '{label}'{hint}")
        src = parts[label][1]
        if src["kind"] != kind:
            raise ZooError(f"{where}: part '{label}' is a {src['kind']}, not a {kind}")
        check_requirements([f"{src['dist']}=={src['version']}"])
    except ZooError as e:
        return None, [p if p.startswith(where) else f"{where}: {p}" for p in e.problems]
    src_dim = src["config"].get("dim")
    if src_dim is not None and src_dim != dim:
        return None, [f"{where}: the pretrained {kind} has width {src_dim} but the model has dim={dim}; "
                      f"set dim={src_dim}"]
    values = {k: v for k, v in src["config"].items() if k != "dim"}
    spec, problems = resolve_local(kind, f"{src['dist']}:{src['name']}", {**values, **fields}, dim, registry, prefix)
    if spec is None:
        return None, problems
    source = ComponentSource(repo=ref.repo, revision=ref.revision or "main", sha=snap.sha, component=label)
    return spec.model_copy(update={"source": source}), []


def load_component_weights(module, spec) -> None:
    """Load the pretrained state of ``spec.source`` (pinned to its commit sha) into ``module``, strictly."""
    from .checkpoint import WEIGHTS_FILE, load_state_tensors, load_weights_strict, read_config

    src = spec.source
    snap = download(HubRef(src.repo, src.sha))
    config = read_config(snap.path)
    attr = _parts_of(config["spec"]).get(src.component, ("", None))[0]
    if not attr or not hasattr(module, "state_dict"):
        return  # an optimizer: its config is all there is
    if spec.kind == "embed":
        module.load_state_json(config.get("embed_state") or {})
    weights = config.get("weights", {})
    tensors = load_state_tensors(snap.path / weights.get("file", WEIGHTS_FILE), weights.get("sha256"))
    own = {k[len(attr) + 1:]: v for k, v in tensors.items() if k.startswith(attr + ".")}
    load_weights_strict(module, own, f"{PREFIX}{src.repo}@{src.sha[:12]} {src.component}")
