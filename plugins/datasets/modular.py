"""Modular arithmetic, the grokking data set: every equation ``a ∘ b = c (mod p)`` for one
operation, split at random into training and validation equations.

Post: "Deep learning notes 09: Grokking - overfit into generalization" ("dataset is a table
of all pairs of variables + the result of the operation", "train dataset ratio").
Paper: Power, Burda, Edwards, Babuschkin, Misra, "Grokking: Generalization Beyond
Overfitting on Small Algorithmic Datasets" (arXiv:2201.02177).

Each example's text is ``"a ∘ b"`` (three word tokens; a, b in 0..p-1) and its label is c:
``+`` a + b, ``-`` a - b, ``/`` a · b^{-1} (b ≠ 0, p prime: b^{-1} = b^{p-2} mod p), all mod p.
A seeded share ``train_fraction`` of the table is training data and the rest validation
(no test split: the held-out equations are the whole point).
"""
from __future__ import annotations

import random

from zoo_core.data import DatasetSplits, Examples
from zoo_core.errors import ZooError

OPERATIONS = {"+": lambda a, b, p: (a + b) % p, "-": lambda a, b, p: (a - b) % p,
              "/": lambda a, b, p: (a * pow(b, p - 2, p)) % p}


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, int(p ** 0.5) + 1))


def table(p: int, op: str) -> list[tuple[str, str]]:
    """Every (text, label) of the operation's table, in order."""
    return [(f"{a} {op} {b}", str(OPERATIONS[op](a, b, p))) for a in range(p) for b in range(p)
            if not (op == "/" and b == 0)]


def load(seed: int = 0, p: int = 97, op: str = "+", train_fraction: float = 0.5) -> DatasetSplits:
    if op not in OPERATIONS:
        raise ZooError(f"data.options.op={op!r}: choose one of {', '.join(OPERATIONS)} (e.g. data.options.op=-)")
    if not _is_prime(p):
        raise ZooError(f"data.options.p={p}: the modulus must be a prime (e.g. 97, 59, 23)")
    if not 0 < train_fraction < 1:
        raise ZooError(f"data.options.train_fraction={train_fraction}: must be between 0 and 1, e.g. 0.5")
    pairs = table(p, op)
    random.Random(seed).shuffle(pairs)
    n_train = max(1, int(round(len(pairs) * train_fraction)))
    train, valid = pairs[:n_train], pairs[n_train:]
    return DatasetSplits(train=Examples([t for t, _ in train], [y for _, y in train]),
                         valid=Examples([t for t, _ in valid], [y for _, y in valid]),
                         name="modular_arithmetic", license="generated",
                         description=f"a {op} b mod {p}: {len(train)} training and {len(valid)} validation "
                                     f"equations (train_fraction {train_fraction}, seed {seed})")
