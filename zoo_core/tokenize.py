"""Text -> tokens, as configured by ``tokenizer.*`` and recorded in every checkpoint.

- ``words``: whitespace-separated words.
- ``chars``: the characters of the text (spaces included).
- ``char_ngrams``: fastText-style character n-grams of each word with ``<`` and ``>``
  boundary marks, ``ngram_min..ngram_max`` long, plus the whole marked word unless
  ``word_token=false`` (a whole-word token can only be memorised, never shared by unseen words).
"""
from __future__ import annotations

from .runspec import TokenizerConfig


class Tokenizer:
    def __init__(self, cfg: TokenizerConfig | None = None):
        self.cfg = cfg or TokenizerConfig()

    def __call__(self, text: str) -> list[str]:
        cfg = self.cfg
        if cfg.lowercase:
            text = text.lower()
        if cfg.unit == "chars":
            tokens = list(text.strip())
        elif cfg.unit == "words":
            tokens = text.split()
        else:
            tokens = []
            for word in text.split():
                marked = f"<{word}>"
                if cfg.word_token:
                    tokens.append(marked)
                for n in range(cfg.ngram_min, cfg.ngram_max + 1):
                    tokens.extend(marked[i: i + n] for i in range(len(marked) - n + 1) if marked[i: i + n] != marked)
        tokens = tokens[: cfg.max_tokens]
        return tokens or [""]  # every sequence keeps one (empty) token, so masks are never all-padding

    def batch(self, texts: list[str]) -> list[list[str]]:
        return [self(t) for t in texts]
