"""WordNet gloss definitions labelled by their lexicographer category (Debian ``wordnet-base``).

A sentence-level task of the posts' shape (a short free-form text -> one of a few dozen
types): the gloss "a domesticated carnivorous mammal ..." -> ``noun.animal``. The data are the
``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv`` files of WordNet 3.0 (wndb(5)):
lines that start with two spaces are the licence header; every other line is one synset,

    synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt [ptr ...] [frames ...] | gloss

where ``synset_offset`` is the line's byte offset in its file (checked here: a mismatch means
the file is not a WordNet data file), ``lex_filenum`` (two decimal digits, 0-44) names the
lexicographer file (lexnames(5): 13 = ``noun.food``), and the gloss is what follows ``| ``: a
definition, then, after ``; ``, example sentences in double quotes.

Text: the definition alone (``examples=false``, the default), or with its example sentences
(``examples=true``); chosen on validation (docs/benchmarks/sentences.md). A text that occurs in
several synsets is kept once when all its synsets share one category and dropped when they do
not (it would have no single answer), so the three splits never share a text.

Split: seeded and stratified by category (each category's share is the same in train,
validation and test, by largest remainders), sampled from all 117,659 synsets: by default
40,000 train, 8,000 validation, 8,000 test; ``n_train=0`` takes every remaining text.
"""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from zoo_core.data import DatasetSplits, Examples
from zoo_core.errors import ZooError

DEFAULT_ROOT = "/usr/share/wordnet"
PARTS = ("noun", "verb", "adj", "adv")
# lexnames(5): the lexicographer files, by number
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)


def parse_line(line: str, where: str) -> tuple[int, str, str]:
    """One synset line -> (synset_offset, category name, gloss with its examples)."""
    head, sep, gloss = line.partition(" | ")
    fields = head.split()
    if not sep or len(fields) < 4 or not fields[0].isdigit() or not fields[1].isdigit():
        raise ZooError(f"{where}: not a WordNet synset line (wndb(5): 'offset lex_filenum ss_type ... | gloss')")
    lex = int(fields[1])
    if lex >= len(LEXNAMES):
        raise ZooError(f"{where}: lexicographer file number {lex} is not one of lexnames(5)'s 0-{len(LEXNAMES) - 1}")
    return int(fields[0]), LEXNAMES[lex], " ".join(gloss.split())


def gloss_text(gloss: str, examples: bool) -> str:
    """The definition, with (``examples=true``) or without its quoted example sentences."""
    if examples:
        return gloss
    cut = gloss.find('; "')
    if cut < 0 and gloss.startswith('"'):
        return ""  # a gloss that is only an example sentence has no definition
    return (gloss if cut < 0 else gloss[:cut]).strip()


def read_data_file(path: Path) -> list[tuple[int, str, str]]:
    """The synsets of one ``data.POS`` file: (offset, category, gloss); offsets are checked."""
    synsets, at = [], 0
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.startswith(b"  ") and raw.strip():
                offset, label, gloss = parse_line(raw.decode("utf-8", errors="replace"), f"{path}:{n}")
                if offset != at:
                    raise ZooError(f"{path}:{n}: synset offset {offset} is not the line's byte offset {at}; the file "
                                   f"is damaged or not a WordNet data file (reinstall: apt-get install wordnet-base)")
                synsets.append((offset, label, gloss))
            at += len(raw)
    return synsets


def labelled_texts(root: str | Path, examples: bool) -> list[tuple[str, str]]:
    """(text, category) of every synset under ``root``, each text once, sorted: conflicting texts dropped."""
    base = Path(root)
    missing = [p for p in PARTS if not (base / f"data.{p}").is_file()]
    if missing:
        raise ZooError(f"data=wordnet_glosses: no WordNet data files ({', '.join('data.' + p for p in missing)}) under "
                       f"{root}; install them with: apt-get install wordnet-base (or set data.options.root=DIR)")
    labels: dict[str, set[str]] = defaultdict(set)
    for part in PARTS:
        for _, label, gloss in read_data_file(base / f"data.{part}"):
            text = gloss_text(gloss, examples)
            if text:
                labels[text].add(label)
    return sorted((text, next(iter(ls))) for text, ls in labels.items() if len(ls) == 1)


def _quotas(sizes: dict[str, int], n: int, total: int) -> dict[str, int]:
    """``n`` items shared among classes in proportion to ``sizes`` (largest remainders, ties by name)."""
    exact = {c: n * s / total for c, s in sizes.items()}
    quota = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: (quota[c] - exact[c], c))[: n - sum(quota.values())]:
        quota[c] += 1
    return quota


def stratified_split(pairs: list[tuple[str, str]], sizes: tuple[int, int, int], seed: int
                     ) -> tuple[list[int], list[int], list[int]]:
    """Indices of (train, valid, test): each split's class shares follow the whole set's."""
    n_train, n_valid, n_test = sizes
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, (_, label) in enumerate(pairs):
        by_class[label].append(i)
    rng = random.Random(seed)
    for label in sorted(by_class):
        rng.shuffle(by_class[label])
    total = len(pairs)
    counts = {c: len(ix) for c, ix in by_class.items()}
    taken = {c: 0 for c in by_class}
    out = []
    for n in (n_test, n_valid, n_train or total - n_test - n_valid):
        quota = _quotas(counts, n, total)
        part = []
        for c in sorted(by_class):
            k = min(quota[c], counts[c] - taken[c])
            part += by_class[c][taken[c]: taken[c] + k]
            taken[c] += k
        rng.shuffle(part)
        out.append(part)
    test, valid, train = out
    return train, valid, test


def load(seed: int = 0, root: str = DEFAULT_ROOT, examples: bool = False, n_train: int = 40000,
         n_valid: int = 8000, n_test: int = 8000) -> DatasetSplits:
    pairs = labelled_texts(root, examples)
    if min(n_train, n_valid, n_test) < 0 or n_train + n_valid + n_test > len(pairs) or not n_valid or not n_test:
        raise ZooError(f"data=wordnet_glosses: n_train={n_train} n_valid={n_valid} n_test={n_test} do not fit the "
                       f"{len(pairs)} distinct glosses under {root}; give positive sizes whose sum is at most "
                       f"{len(pairs)} (n_train=0: all the rest)")
    parts = stratified_split(pairs, (n_train, n_valid, n_test), seed)
    train, valid, test = (Examples([pairs[i][0] for i in ix], [pairs[i][1] for i in ix]) for ix in parts)
    return DatasetSplits(train=train, valid=valid, test=test, name="wordnet_glosses", license="wordnet",
                         description=f"WordNet 3.0 glosses ({'with' if examples else 'without'} example sentences) "
                                     f"-> 45 lexicographer categories; {len(train)}/{len(valid)}/{len(test)} "
                                     f"train/valid/test, stratified, seed {seed}, from {root}")
