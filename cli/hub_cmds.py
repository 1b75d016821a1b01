"""``zoo push`` and ``zoo pull``: share checkpoints through the Hugging Face Hub (or HF_ENDPOINT)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .main import command


@command()
def push(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="a saved model folder (zoo train --out DIR)"),
    repo: str = typer.Argument(..., metavar="ORG/NAME", help="Hub repository; created if it does not exist"),
    revision: Optional[str] = typer.Option(None, "--revision", help="branch to commit to (created from main if new)"),
    private: bool = typer.Option(False, "--private", help="create the repository as private"),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="commit message"),
):
    """Upload a checkpoint (weights, config, card, metrics; never training_state/) in one commit."""
    from zoo_core.model import push_folder

    info = push_folder(model_dir, repo, revision=revision, private=private, message=message)
    typer.echo(f"pushed {model_dir} to {repo}{'@' + revision if revision else ''}: commit {info.oid}")
    typer.echo(info.commit_url)


@command()
def pull(
    ref: str = typer.Argument(..., metavar="ORG/NAME[@REVISION]", help="Hub repository, optionally at a branch, "
                                                                     "tag or commit sha (hf: prefix optional)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="also copy the files to this folder"),
):
    """Download a model (safetensors and JSON only) into the Hub cache; print the resolved commit."""
    from zoo_core.hub import download
    from zoo_core.refs import parse_hub

    snap = download(parse_hub(ref[3:] if ref.startswith("hf:") else ref, allow_part=False), out_dir)
    typer.echo(f"{snap.ref.repo}@{snap.ref.revision or 'main'} -> commit {snap.sha}")
    typer.echo(f"files in {snap.path}")
    typer.echo(f"use it as: zoo predict hf:{snap.ref.repo}@{snap.sha} 'some text'")
