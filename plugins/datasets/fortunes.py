"""Fortune cookies by category (Debian packages ``fortunes`` and ``fortunes-LANG``).

Records are separated by a line holding ``%``; the category is the file name. With
``languages=true`` the label is the language instead (en, de, es, it, ru from the
``fortunes-*`` packages), a sentence-level language-ID task.
"""
from __future__ import annotations

from pathlib import Path

from zoo_core.data import DatasetSplits, Examples
from zoo_core.errors import ZooError

DEFAULT_ROOT = "/usr/share/games/fortunes"
LANG_DIRS = {"de": "de", "es": "es", "it": "it", "ru": "ru"}


def read_fortune_file(path: Path, max_chars: int) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    records = [" ".join(r.split()) for r in text.split("\n%\n")]
    return [r[:max_chars] for r in records if r.strip() and r.strip() != "%"]


def _data_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.suffix and not p.name.startswith("."))


def load(seed: int = 0, root: str = DEFAULT_ROOT, languages: bool = False, min_per_class: int = 20,
         max_chars: int = 400) -> DatasetSplits:
    base = Path(root)
    if not base.is_dir():
        raise ZooError(f"data=fortunes: {root} not found; install the data with: apt-get install fortunes "
                       f"(and fortunes-de fortunes-es fortunes-it fortunes-ru for languages=true)")
    texts, labels = [], []
    if languages:
        for lang, sub in [("en", None), *LANG_DIRS.items()]:
            directory = base if sub is None else base / sub
            if directory.is_dir():
                for path in _data_files(directory):
                    recs = read_fortune_file(path, max_chars)
                    texts += recs
                    labels += [lang] * len(recs)
    else:
        for path in _data_files(base):
            recs = read_fortune_file(path, max_chars)
            if len(recs) >= min_per_class:
                texts += recs
                labels += [path.name] * len(recs)
    if not texts:
        raise ZooError(f"data=fortunes: no fortune files with at least {min_per_class} records under {root}")
    return DatasetSplits(train=Examples(texts, labels), name="fortunes", license="other",
                         description=f"fortunes from {root}, labelled by {'language' if languages else 'category'}")
