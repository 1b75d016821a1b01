"""Word forms grouped by lemma, for retrieval: a word retrieves the other forms of its lemma.

Source: spacy-lookups-data (PyPI, MIT; the per-language tables carry their own notes),
``LANG_lemma_lookup.json.gz``: word form -> lemma (en: 41.6k pairs). Every example is one
word form (text) labelled with its lemma; the lemma itself is one of the forms.

Splits: every lemma with at least ``min_forms`` forms is kept (``max_groups`` of them,
seeded); lemmas with 4+ forms give 2 forms to validation or to test (alternating) and keep
the rest for training, so every evaluation query has exactly one unseen sibling form among
all evaluation words, and its lemma has training examples (the trainer requires every
evaluation label in the training data). Smaller lemmas stay in training.
Post: "Who's Afraid of the Recurrent Wolf?" (words with the same stem close in the
embedding space, others away).
"""
from __future__ import annotations

import gzip
import json
import os
import random
from collections import defaultdict

from zoo_core.data import DatasetSplits, Examples
from zoo_core.errors import ZooError


def lemma_groups(language: str = "en") -> dict[str, list[str]]:
    try:
        import spacy_lookups_data
    except ImportError:
        raise ZooError("data=lemmas needs the spacy-lookups-data package: pip install spacy-lookups-data") from None
    path = os.path.join(os.path.dirname(spacy_lookups_data.__file__), "data", f"{language}_lemma_lookup.json.gz")
    if not os.path.isfile(path):
        available = sorted(f.split("_")[0] for f in os.listdir(os.path.dirname(path)) if f.endswith("_lemma_lookup.json.gz"))
        raise ZooError(f"data=lemmas: no lemma table for language={language}; available: {', '.join(available)}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        table = json.load(f)
    groups: dict[str, set[str]] = defaultdict(set)
    for form, lemma in table.items():
        if isinstance(lemma, str) and form.strip() and lemma.strip() and " " not in form + lemma:
            groups[lemma].update((form, lemma))
    return {lemma: sorted(forms) for lemma, forms in groups.items()}


def load(seed: int = 0, language: str = "en", max_groups: int = 3000, min_forms: int = 2) -> DatasetSplits:
    groups = {k: v for k, v in lemma_groups(language).items() if len(v) >= min_forms}
    rng = random.Random(seed)
    names = sorted(groups)
    rng.shuffle(names)
    names = sorted(names[:max_groups])
    train, valid, test = Examples([], []), Examples([], []), Examples([], [])
    held = 0
    for lemma in names:
        forms = groups[lemma][:]
        rng.shuffle(forms)
        if len(forms) >= 4:
            part = valid if held % 2 == 0 else test
            held += 1
            part.texts += forms[:2]
            part.labels += [lemma] * 2
            forms = forms[2:]
        train.texts += forms
        train.labels += [lemma] * len(forms)
    if not valid.texts:
        raise ZooError(f"data=lemmas: no lemma with 4+ forms among {len(names)} groups; raise max_groups")
    return DatasetSplits(train=train, valid=valid, test=test, name=f"lemmas_{language}", license="mit",
                         description=f"{language} word forms labelled by lemma (spacy-lookups-data); "
                                     f"{len(names)} lemmas, evaluation forms unseen in training")
