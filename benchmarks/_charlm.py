"""Per-language character n-gram language models for word-level language ID: a baseline of
another family than the bags of n-grams (which score a word by n-grams that occur anywhere in
it), used by benchmarks/langid_ensemble.py as the member ``lm:ORDER``.

Each language's model scores a word by the chain rule over its characters (lower-cased, then
an end mark), P(c | h) with h the previous ORDER-1 characters (the word start padded with a
start mark), interpolated absolute discounting (Ney, Essen and Kneser 1994; the smoothing that
Vatanen, Väyrynen and Virpioja 2010, "Language identification of short text segments with
n-gram models", LREC, found among the best for short segments):

    P(c | h) = max(N(h c) - D, 0) / N(h) + D * T(h) / N(h) * P(c | h'),

N counts in the language's training words, T(h) the distinct characters seen after h, h' is h
without its first character, and the recursion ends in the uniform distribution over the
characters seen in any language's training words plus one for unseen ones; a history never
seen backs off entirely. The class score is log P(word | language) + log prior.
No torch, no training loop: counting is the training.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np

START, END = "\x02", "\x03"


class CharLM:
    def __init__(self, order: int = 5, discount: float = 0.75, prior: str = "uniform"):
        if order < 1:
            raise ValueError(f"order={order}: a character n-gram model needs order >= 1")
        if not 0 < discount < 1:
            raise ValueError(f"discount={discount}: absolute discounting needs 0 < D < 1")
        self.order, self.discount, self.prior = order, discount, prior

    def fit(self, texts: list[str], labels: list[str]) -> "CharLM":
        self.classes_ = np.array(sorted(set(labels)))
        counts = {c: defaultdict(Counter) for c in self.classes_}  # language -> history -> next char
        alphabet = {END}
        for text, label in zip(texts, labels):
            chars = text.lower() + END
            alphabet.update(chars)
            padded = START * (self.order - 1) + chars
            table = counts[label]
            for i in range(self.order - 1, len(padded)):
                for k in range(self.order):  # histories of length 0 .. order-1
                    table[padded[i - k:i]][padded[i]] += 1
        self.vocab = len(alphabet) + 1  # + one for characters no training word has
        self.tables = {c: {h: (dict(n), sum(n.values()), len(n)) for h, n in t.items()} for c, t in counts.items()}
        freq = Counter(labels)
        self.log_prior = np.log(np.array([freq[c] / len(labels) if self.prior == "train" else 1 / len(self.classes_)
                                          for c in self.classes_]))
        self._prob = {c: lru_cache(maxsize=None)(self._prob_fn(self.tables[c])) for c in self.classes_}
        return self

    def _prob_fn(self, table):
        D, uniform = self.discount, 1.0 / self.vocab

        def prob(history: str, char: str) -> float:
            lower = prob(history[1:], char) if history else uniform
            seen = table.get(history)
            if seen is None:
                return lower
            nexts, total, distinct = seen
            return max(nexts.get(char, 0) - D, 0) / total + D * distinct / total * lower
        return prob

    def log_likelihood(self, text: str, label: str) -> float:
        chars = text.lower() + END
        padded = START * (self.order - 1) + chars
        prob = self._prob[label]
        return float(sum(np.log(prob(padded[i - self.order + 1:i], padded[i]))
                         for i in range(self.order - 1, len(padded))))

    def predict_log_proba(self, texts: list[str]) -> np.ndarray:
        scores = np.array([[self.log_likelihood(t, c) for c in self.classes_] for t in texts]) + self.log_prior
        return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.exp(self.predict_log_proba(texts))
