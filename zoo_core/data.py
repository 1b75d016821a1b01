"""Labelled text data: local TSV/CSV/JSONL files, Parquet and Hugging Face datasets
(readers.py), or datasets registered by plugins.

Files need ``text`` and ``label`` columns (a header row for TSV/CSV) or keys (JSONL).
Malformed rows are reported with file and line number, all at once (up to 20).
Without ``data.valid`` a seeded, stratified validation split is carved out of the training data.
"""
from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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


def _decode_lines(path: Path) -> tuple[list[tuple[int, str]], list[str]]:
    raw = path.read_bytes()
    lines, problems = [], []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(f"{path}:{n}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8")
            continue
        lines.append((n, text.rstrip("\r")))
    if lines and lines[0][0] == 1:
        lines[0] = (1, lines[0][1].lstrip("\ufeff"))
    return lines, problems


def read_file(path: str | Path, text_col: str = "text", label_col: str = "label") -> Examples:
    path = Path(path)
    if Path(path).suffix.lower() == ".parquet" or is_saved_dataset(path):
        return Examples(*read_table(str(path), text_col, label_col)["train"])
    if not path.is_file():
        raise ZooError(f"{path}: file not found; give a .tsv, .csv or .jsonl file with text and label columns")
    suffix = path.suffix.lower()
    if suffix not in (".tsv", ".csv", ".jsonl", ".json"):
        raise ZooError(f"{path}: unknown format '{suffix}'; use .tsv, .csv or .jsonl")
    lines, problems = _decode_lines(path)
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

    if suffix in (".jsonl", ".json"):
        for n, line in lines:
            if not line.strip():
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
    else:
        delimiter = "\t" if suffix == ".tsv" else ","
        content = [(n, l) for n, l in lines if l.strip()]
        if not content:
            raise ZooError(f"{path}: the file is empty; it needs a header row 'text{delimiter}label' and data rows")
        header_n, header_line = content[0]
        header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
        if text_col.lower() not in header or label_col.lower() not in header:
            raise ZooError(f"{path}:{header_n}: header must name '{text_col}' and '{label_col}' columns, got {header}; add "
                           f"a header row like 'text{delimiter}label' or name them with data.text=COL data.label=COL")
        ti, li = header.index(text_col.lower()), header.index(label_col.lower())
        for n, line in content[1:]:
            row = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
            if len(row) <= max(ti, li):
                problems.append(f"{path}:{n}: expected {len(header)} columns, found {len(row)}")
                continue
            add(n, row[ti], row[li])
    if problems:
        more = len(problems) - MAX_REPORTED
        raise ZooError(*problems[:MAX_REPORTED], *( [f"... and {more} more malformed rows"] if more > 0 else []))
    if not texts:
        raise ZooError(f"{path}: no examples found")
    return Examples(texts, labels)


def stratified_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Deterministic, seeded split keeping each label's share (every label keeps >= 1 training example)."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(examples.labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    train_idx, valid_idx = [], []
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        k = int(round(len(idx) * fraction)) if len(idx) > 1 else 0
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
    return splits
