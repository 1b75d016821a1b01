"""Weighted sums of losses on the command line. Torch-free (the spec layer uses it).

    loss=cross_entropy+0.1*token_contrastive      a classifier with a SimCTG regulariser
    loss='0.5*approx_ndcg+0.5*triplet_cosine'     quote it: * is a shell wildcard
    loss.margin=0.5                               a field goes to every term that has it

Grammar: TERM ('+' TERM)*, TERM = [WEIGHT '*'] NAME, NAME = name or dist:name, WEIGHT a
float (1 when omitted). The result is one ComponentSpec for the ``combined`` loss whose
config lists each term resolved like a single loss (kind, dist, version, validated config),
so the checkpoint stays plain JSON with no import path; the ``combined`` loss sums
``weight * term(outputs, target)`` and needs a class head when any term does.
"""
from __future__ import annotations

import re
from typing import Any

from .errors import ZooError

COMBINED = "combined"
_TERM = re.compile(r"^\s*(?:(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*\s*)?(?P<name>[\w.:-]+)\s*$")


def is_combined(text: str) -> bool:
    return "+" in text or "*" in text


def parse_terms(text: str) -> tuple[list[tuple[float, str]], list[str]]:
    """``"ce+0.1*tc"`` -> ([(1.0, "ce"), (0.1, "tc")], problems)."""
    terms, problems = [], []
    # a '+' inside an exponent (1e+3) is not a separator
    parts = re.split(r"(?<![eE])\+", text)
    for part in parts:
        m = _TERM.match(part)
        if not m:
            problems.append(f"loss={text}: cannot read term '{part.strip()}'; write NAME or WEIGHT*NAME joined by +, "
                            f"e.g. loss=cross_entropy+0.1*token_contrastive")
            continue
        weight = float(m["weight"]) if m["weight"] else 1.0
        terms.append((weight, m["name"]))
    if not problems and not terms:
        problems.append(f"loss={text}: no loss terms")
    return terms, problems


def resolve_combined(text: str, fields: dict[str, Any], dim: int, registry, prefix: str = "loss"):
    """The ``combined`` ComponentSpec for ``text``, or (None, problems)."""
    from .spec import ComponentSpec, resolve_component

    terms, problems = parse_terms(text)
    if problems:
        return None, problems
    resolved, used = [], set()
    for weight, name in terms:
        try:
            comp = registry.resolve("loss", name)
        except ZooError as e:
            problems += e.problems
            continue
        if comp.name == COMBINED:
            problems.append(f"loss={text}: '{name}' cannot be a term; list the terms directly")
            continue
        own = {k: v for k, v in fields.items() if k in comp.config.model_fields}
        used |= set(own)
        spec, probs = resolve_component("loss", f"{comp.dist}:{comp.name}", own, dim, registry, prefix)
        problems += probs
        if spec is not None:
            resolved.append({"weight": weight, "name": spec.name, "dist": spec.dist, "version": spec.version,
                             "config": spec.config})
    for field in sorted(set(fields) - used):
        problems.append(f"{prefix}.{field}: no term of loss={text} has this field; "
                        f"zoo info loss:NAME lists each term's fields")
    if problems:
        return None, problems
    try:
        combined = registry.resolve("loss", COMBINED)
    except ZooError as e:
        return None, e.problems
    cfg = combined.config.model_validate({"terms": resolved})
    return ComponentSpec(kind="loss", name=combined.name, dist=combined.dist, version=combined.version,
                         config=cfg.model_dump(mode="json")), []
