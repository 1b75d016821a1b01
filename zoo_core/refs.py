"""The one parser of component references. Torch-free.

    lambda                      a registered component
    zoo-example:shift           the one a given distribution registered (when two do)
    hf:ORG/NAME[@REV][#PART]    a part of a model on the Hub, pinned to the commit REV resolves to

A name with '/' is never looked up in the registry (timm's rule: the source is explicit);
``local-dir:`` is reserved. Anything else (``cross_entropy+0.1*token_contrastive``) is an
expression, which a component that registered a ``syntax`` may claim (see factory.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ZooError

HUB = "hf"
RESERVED = ("local-dir",)
_NAME = re.compile(r"^[A-Za-z0-9_][\w.-]*$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Ref:
    """What a user named: a registry entry (``dist`` optional), a Hub part, or an expression."""

    text: str
    name: str = ""
    dist: str | None = None
    repo: str | None = None
    revision: str | None = None
    part: str | None = None

    @property
    def is_hub(self) -> bool:
        return self.repo is not None

    @property
    def is_expression(self) -> bool:
        return not self.name and self.repo is None

    def __str__(self) -> str:
        return self.text


def normalize_dist(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-").replace(".", "-")


def parse_ref(text: str, *, allow_part: bool = True) -> Ref:
    """Parse a reference; raises ZooError for malformed Hub ids, reserved prefixes and '/' names."""
    text = str(text).strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix == HUB:
        return parse_hub(rest, allow_part=allow_part, text=text)
    if sep and prefix in RESERVED:
        raise ZooError(f"'{text}': '{prefix}:' sources are not available in this version of zoo; "
                       f"name a registered component or hf:ORG/NAME")
    if "/" in text and not any(op in text for op in "+*"):
        raise ZooError(f"'{text}': a name with '/' is never looked up in the registry; write hf:{text} "
                       f"for a Hub repository")
    if sep and _NAME.match(prefix) and _NAME.match(rest):
        return Ref(text, name=rest, dist=normalize_dist(prefix))
    if _NAME.match(text):
        return Ref(text, name=text)
    return Ref(text)


def parse_hub(body: str, *, allow_part: bool = True, text: str | None = None) -> Ref:
    """``ORG/NAME[@REV][#PART]`` (after ``hf:``) -> Ref with repo, revision and part."""
    text = text or f"{HUB}:{body}"
    body, _, part = body.partition("#")
    repo, _, revision = body.partition("@")
    if not _REPO_ID.match(repo) or (part and not allow_part) or "@" in revision:
        example = "hf:ORG/NAME[@REVISION]" + ("[#PART]" if allow_part else "")
        raise ZooError(f"'{text}': not a Hub reference; write {example}, e.g. hf:my-org/langid-small@main")
    return Ref(text, repo=repo, revision=revision or None, part=part or None)


def is_hub_text(text) -> bool:
    return isinstance(text, str) and text.startswith(f"{HUB}:")
