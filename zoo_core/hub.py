"""The Hugging Face Hub transport: download a snapshot of a repository, upload files to one.
What the files mean (a model, a pretrained part) is model.py's and factory.py's business.

Every request goes through huggingface_hub's public API, so the same code talks to
huggingface.co and to any ``HF_ENDPOINT`` (a mirror, a private Hub), and honours
``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_TOKEN``.

References (``hf:ORG/NAME[@REVISION][#PART]``) are parsed by refs.py into a ``Ref``.

Safety: only the files in ``PULL_FILES`` are ever downloaded (allow-list, so pickle files
and code in a repository never reach the disk); weights are read with safetensors after
their sha256 is checked against config.json; no import path is ever read from a download;
plugin distributions are checked before anything is built; the resolved commit sha is
recorded, so a branch that moved later is visible. Torch is not imported at module level.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ZooError
from .refs import Ref

PREFIX = "hf:"
PUSH_FILES = ("model.safetensors", "config.json", "README.md", "metrics.jsonl")
PULL_FILES = PUSH_FILES + ("tokenizer.json",)  # tokenizer.json: encoders in the Hub's standard layout


@dataclass(frozen=True)
class Snapshot:
    ref: Ref
    path: Path
    sha: str


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


# ---- errors ----------------------------------------------------------------------------
def _revision_exists_elsewhere(ref: Ref) -> list[str] | None:
    """Branch and tag names when the repository exists (some mirrors answer a missing revision
    as a missing repository); None when it does not or cannot be asked."""
    from huggingface_hub import HfApi

    try:
        refs = HfApi().list_repo_refs(ref.repo)
    except Exception:
        return None
    return [b.name for b in refs.branches] + [t.name for t in refs.tags]


@contextmanager
def hub_errors(ref: Ref, action: str = "download"):
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
def download(ref: Ref, out: str | Path | None = None) -> Snapshot:
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


# ---- push ------------------------------------------------------------------------------
def upload(folder: str | Path, files: list[str], ref: Ref, *, revision: str | None = None,
           private: bool = False, message: str | None = None):
    """Create ``ref.repo`` if needed and upload ``files`` of ``folder`` in one commit. Returns CommitInfo."""
    from huggingface_hub import HfApi

    api = HfApi()
    branch = revision or ref.revision
    with hub_errors(ref, "push"):
        api.create_repo(ref.repo, private=private, exist_ok=True)
        if branch and branch != "main":
            api.create_branch(ref.repo, branch=branch, exist_ok=True)
        return api.upload_folder(repo_id=ref.repo, folder_path=str(folder), revision=branch,
                                 allow_patterns=list(files),
                                 commit_message=message or f"Upload zoo model ({', '.join(files)})")
