"""Labelled text data: local TSV/CSV/JSONL files or datasets registered by plugins.

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


def read_file(path: str | Path) -> Examples:
    path = Path(path)
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
            if not isinstance(row, dict) or "text" not in row or "label" not in row:
                problems.append(f"{path}:{n}: each line must be an object with 'text' and 'label' keys")
                continue
            add(n, row["text"], row["label"])
    else:
        delimiter = "\t" if suffix == ".tsv" else ","
        content = [(n, l) for n, l in lines if l.strip()]
        if not content:
            raise ZooError(f"{path}: the file is empty; it needs a header row 'text{delimiter}label' and data rows")
        header_n, header_line = content[0]
        header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
        if "text" not in header or "label" not in header:
            raise ZooError(f"{path}:{header_n}: header must name 'text' and 'label' columns, got {header}; "
                           f"add a header row like 'text{delimiter}label'")
        ti, li = header.index("text"), header.index("label")
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
    if source.suffix.lower() in (".tsv", ".csv", ".jsonl", ".json") or source.exists():
        splits = DatasetSplits(train=read_file(source), name=source.stem)
    else:
        entry = (registry or get_registry()).dataset(cfg.source)
        try:
            splits = entry.load()(seed=seed, **cfg.options)
        except TypeError as e:
            raise ZooError(f"data.options for {entry.name}: {e}") from None
        splits.name = splits.name or entry.name
        splits.license = splits.license or entry.license
    if cfg.valid:
        splits.valid = read_file(cfg.valid)
    if cfg.test:
        splits.test = read_file(cfg.test)
    if splits.valid is None:
        splits.train, splits.valid = stratified_split(splits.train, cfg.valid_fraction, seed)
    return splits
