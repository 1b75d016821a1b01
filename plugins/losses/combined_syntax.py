"""The command-line grammar of the combined loss (torch-free; registered as its ``syntax``).

    loss=cross_entropy+0.1*token_contrastive      a classifier with a SimCTG regulariser
    loss='0.5*approx_ndcg+0.5*triplet_cosine'     quote it: * is a shell wildcard
    loss.margin=0.5                               a field goes to every term that has it

Grammar: TERM ('+' TERM)*, TERM = [WEIGHT '*'] NAME, NAME = name or dist:name, WEIGHT a float
(1 when omitted). ``read`` turns it into the combined loss's fields, each term a nested
component the factory resolves and pins; ``write`` is the inverse, for the model card.
"""
from __future__ import annotations

import re

from zoo_core.errors import ZooError

_TERM = re.compile(r"^\s*(?:(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*\s*)?(?P<name>[\w.:-]+)\s*$")


def parse_terms(text: str) -> list[tuple[float, str]]:
    """``"ce+0.1*tc"`` -> [(1.0, "ce"), (0.1, "tc")]; a '+' inside an exponent (1e+3) is not a separator."""
    terms = []
    for part in re.split(r"(?<![eE])\+", text):
        m = _TERM.match(part)
        if not m:
            raise ZooError(f"loss={text}: cannot read term '{part.strip()}'; write NAME or WEIGHT*NAME joined by +, "
                           f"e.g. loss=cross_entropy+0.1*token_contrastive")
        terms.append((float(m["weight"]) if m["weight"] else 1.0, m["name"]))
    return terms


class CombinedSyntax:
    @staticmethod
    def read(text: str, fields: dict, registry) -> dict | None:
        """The combined loss's fields for ``text``, or None when ``text`` is not a sum of losses."""
        if "+" not in text and "*" not in text:
            return None
        terms, used, problems = [], set(), []
        for weight, name in parse_terms(text):
            try:
                comp = registry.resolve("loss", name)
            except ZooError as e:
                problems += e.problems
                continue
            if comp.syntax is not None:
                problems.append(f"loss={text}: '{name}' cannot be a term; list the terms directly")
                continue
            own = {k: v for k, v in fields.items() if k in comp.config.model_fields}
            used |= set(own)
            terms.append({"weight": weight, "loss": {"name": name, **own}})
        problems += [f"loss.{field}: no term of loss={text} has this field; zoo info loss:NAME lists each term's "
                     f"fields" for field in sorted(set(fields) - used)]
        if problems:
            raise ZooError(*problems)
        return {"terms": terms}

    @staticmethod
    def write(config: dict) -> str:
        parts = []
        for term in config["terms"]:
            name = term["loss"]["name"]
            parts.append(name if term["weight"] == 1.0 else f"{term['weight']}*{name}")
        return "+".join(parts)
