"""Labelled text data: local TSV/CSV/JSONL files, Parquet and Hugging Face datasets
(readers.py), or datasets registered by plugins.

Files need ``text`` and ``label`` columns (a header row for TSV/CSV) or keys (JSONL).
Malformed rows are reported with file and line number, all at once (up to 20).
Without ``data.valid`` a seeded, stratified validation split is carved out of the training data.
"""
from __future__ import annotations

import csv
import json
import random
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import ZooError
from .readers import is_saved_dataset, is_table_source, read_table
from .runspec import DataConfig

MAX_REPORTED = 20


@dataclass
class Examples:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: list[int]) -> "Examples":
        return Examples([self.texts[i] for i in idx], [self.labels[i] for i in idx])


@dataclass
class DatasetSplits:
    train: Examples
    valid: Examples | None = None
    test: Examples | None = None
    name: str = ""
    license: str = ""
    description: str = ""


def _text_lines(path: Path, bad: set[int], problems: list[str]) -> Iterator[str]:
    """The file's lines, streamed (never the whole file in memory), newlines kept for the csv
    module; a line that is not UTF-8 is reported, remembered in ``bad`` and given as empty."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                problems.append(f"{path}:{n}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8")
                bad.add(n)
                text = "\n" if raw.endswith(b"\n") else ""
            yield text.lstrip("\ufeff") if n == 1 else text


def read_file(path: str | Path, text_col: str = "text", label_col: str = "label") -> Examples:
    """Examples of a .tsv/.csv/.jsonl/.parquet file or a saved dataset, from its ``text_col`` and
    ``label_col``. CSV follows RFC 4180 (quoted fields may hold commas, quotes and newlines); TSV
    has no quoting at all: every character of a field is text."""
    path = Path(path)
    if Path(path).suffix.lower() == ".parquet" or is_saved_dataset(path):
        return Examples(*read_table(str(path), text_col, label_col)["train"])
    if not path.is_file():
        raise ZooError(f"{path}: file not found; give a .tsv, .csv or .jsonl file with text and label columns")
    suffix = path.suffix.lower()
    if suffix not in (".tsv", ".csv", ".jsonl", ".json"):
        raise ZooError(f"{path}: unknown format '{suffix}'; use .tsv, .csv or .jsonl")
    problems: list[str] = []
    bad: set[int] = set()
    texts, labels = [], []

    def add(n: int, text, label) -> None:
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}:{n}: empty or missing text")
        elif label is None or (isinstance(label, str) and not label.strip()):
            problems.append(f"{path}:{n}: empty or missing label")
        elif isinstance(label, (dict, list)):
            problems.append(f"{path}:{n}: label must be a string or number, got {type(label).__name__}")
        else:
            texts.append(text)
            labels.append(str(label).strip())

    lines = _text_lines(path, bad, problems)
    if suffix in (".jsonl", ".json"):
        _read_jsonl(path, lines, bad, add, problems, (text_col, label_col))
    else:
        _read_table(path, lines, bad, add, problems, suffix, (text_col, label_col))
    if problems:
        more = len(problems) - MAX_REPORTED
        raise ZooError(*problems[:MAX_REPORTED], *( [f"... and {more} more malformed rows"] if more > 0 else []))
    if not texts:
        raise ZooError(f"{path}: no examples found")
    return Examples(texts, labels)


def _read_jsonl(path: Path, lines: Iterator[str], bad: set[int], add, problems: list[str],
                columns: tuple[str, str]) -> None:
    text_col, label_col = columns
    for n, line in enumerate(lines, start=1):
        if not line.strip() or n in bad:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{n}: not valid JSON ({e.msg})")
            continue
        if not isinstance(row, dict) or text_col not in row or label_col not in row:
            problems.append(f"{path}:{n}: each line must be an object with '{text_col}' and '{label_col}' keys "
                            f"(name others with data.text=KEY data.label=KEY)")
            continue
        add(n, row[text_col], row[label_col])


def _read_table(path: Path, lines: Iterator[str], bad: set[int], add, problems: list[str], suffix: str,
                columns: tuple[str, str]) -> None:
    text_col, label_col = (c.lower() for c in columns)
    delimiter = "\t" if suffix == ".tsv" else ","
    quoting = {"quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {"strict": True}
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))  # a long text is still one field
    reader = csv.reader(lines, delimiter=delimiter, **quoting)
    header, ti, li, start = None, 0, 0, 1
    try:
        for row in reader:
            first, last, start = start, reader.line_num, reader.line_num + 1
            if not "".join(row).strip() or (bad and bad.intersection(range(first, last + 1))):
                continue
            if header is None:
                header = [h.strip().lower() for h in row]
                if text_col not in header or label_col not in header:
                    raise ZooError(f"{path}:{first}: header must name '{text_col}' and '{label_col}' columns, got "
                                   f"{header}; add a header row like 'text{delimiter}label' or name them with "
                                   f"data.text=COL data.label=COL")
                ti, li = header.index(text_col), header.index(label_col)
            elif len(row) <= max(ti, li):
                problems.append(f"{path}:{first}: expected {len(header)} columns, found {len(row)}")
            else:
                add(first, row[ti], row[li])
    except csv.Error as e:
        problems.append(f"{path}:{start}: {e}; a CSV field that starts with a quote must end with one (write a "
                        f"quote inside it as \"\")")
    if header is None and not problems:
        raise ZooError(f"{path}: the file is empty; it needs a header row 'text{delimiter}label' and data rows")


def stratified_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Deterministic, seeded split keeping each label's share: every label keeps >= 1 training
    example and, when it has two or more, gives >= 1 to validation."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(examples.labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    train_idx, valid_idx = [], []
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        k = max(1, int(round(len(idx) * fraction))) if len(idx) > 1 else 0
        k = min(k, len(idx) - 1)
        valid_idx += idx[:k]
        train_idx += idx[k:]
    return examples.subset(sorted(train_idx)), examples.subset(sorted(valid_idx))


def load_splits(cfg: DataConfig, seed: int = 0, registry=None) -> DatasetSplits:
    from .registry import get_registry

    if not cfg.source:
        raise ZooError("no training data; add data=PATH (a .tsv/.csv/.jsonl file with text,label) "
                       "or data=NAME of a registered dataset (zoo datasets lists them)")
    source = Path(cfg.source)
    if is_table_source(cfg.source):  # Parquet, a save_to_disk folder, hf:ORG/NAME[@REV] (readers.py)
        parts = {k: Examples(*v) for k, v in read_table(cfg.source, cfg.text, cfg.label).items()}
        splits = DatasetSplits(name=cfg.source.removeprefix("hf:") if cfg.source.startswith("hf:") else source.stem,
                               **parts)
    elif source.suffix.lower() in (".tsv", ".csv", ".jsonl", ".json") or source.exists():
        splits = DatasetSplits(train=read_file(source, cfg.text, cfg.label), name=source.stem)
    else:
        entry = (registry or get_registry()).dataset(cfg.source)
        try:
            splits = entry.load()(seed=seed, **cfg.options)
        except TypeError as e:
            raise ZooError(f"data.options for {entry.name}: {e}") from None
        splits.name = splits.name or entry.name
        splits.license = splits.license or entry.license
    if cfg.valid:
        splits.valid = read_file(cfg.valid, cfg.text, cfg.label)
    if cfg.test:
        splits.test = read_file(cfg.test, cfg.text, cfg.label)
    if splits.valid is None:
        splits.train, splits.valid = stratified_split(splits.train, cfg.valid_fraction, seed)
        _warn_if_small(splits)
    return splits


SMALL_VALID = 20


def _warn_if_small(splits: DatasetSplits) -> None:
    """Say plainly when the carved-out validation split is too small to select a model on."""
    classes = sorted(set(splits.train.labels))
    missing = sorted(set(classes) - set(splits.valid.labels))
    if len(splits.valid) >= SMALL_VALID and not missing:
        return
    lacking = f"; no validation example for {', '.join(missing[:5])} (one training example each)" if missing else ""
    warnings.warn(f"the validation split has only {len(splits.valid)} example(s) for {len(classes)} classes"
                  f"{lacking}: its scores (and early stopping) are mostly noise; give data.valid=FILE, more data or "
                  f"fewer classes, or turn early stopping off with train.patience=N >= train.epochs", stacklevel=3)


def resolve_paths(cfg: DataConfig) -> None:
    """Local data files as absolute paths, so that ``--resume`` works from any folder (the model
    card shows file names only)."""
    for key in ("source", "valid", "test"):
        value = getattr(cfg, key)
        if value and Path(value).is_file():
            setattr(cfg, key, str(Path(value).resolve()))
