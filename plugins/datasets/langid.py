"""Word-level language identification from wordfreq's frequency lists (data CC-BY-SA 4.0).

Each example is one word; its label is the language whose top-``words_per_language`` list
holds it. Words in the lists of several languages are dropped, so every word has one
answer, and train/valid/test never share a word.
"""
from __future__ import annotations

import random
from collections import Counter

from zoo_core.data import DatasetSplits, Examples
from zoo_core.errors import ZooError


def load(seed: int = 0, words_per_language: int = 2000, languages: list[str] | None = None,
         valid_fraction: float = 0.1, test_fraction: float = 0.1) -> DatasetSplits:
    try:
        from wordfreq import available_languages, top_n_list
    except ImportError:
        raise ZooError("the wordfreq_langid dataset needs wordfreq: pip install wordfreq") from None
    available = sorted(available_languages("best"))
    langs = sorted(languages) if languages else available
    unknown = [lang for lang in langs if lang not in available]
    if unknown:
        raise ZooError(f"data.options.languages: unknown {unknown}; wordfreq has {', '.join(available)}")
    pairs = [(w, lang) for lang in langs for w in top_n_list(lang, words_per_language)]
    counts = Counter(w for w, _ in pairs)
    pairs = [(w, lang) for w, lang in pairs if counts[w] == 1]
    random.Random(seed).shuffle(pairs)
    n_test = int(len(pairs) * test_fraction)
    n_valid = int(len(pairs) * valid_fraction)
    parts = pairs[:n_test], pairs[n_test:n_test + n_valid], pairs[n_test + n_valid:]
    test, valid, train = (Examples([w for w, _ in p], [lang for _, lang in p]) for p in parts)
    return DatasetSplits(train=train, valid=valid, test=test, name="wordfreq_langid", license="cc-by-sa-4.0",
                         description=f"word-level language ID over {len(langs)} languages, top "
                                     f"{words_per_language} words each, shared words dropped "
                                     f"({len(pairs)} words, word-disjoint splits, seed {seed})")
