"""Tables the way users keep them, besides TSV/CSV/JSONL (data.py): Parquet files (pyarrow),
Hugging Face ``datasets`` folders written by ``save_to_disk``, and datasets in the local Hub
cache (``data=hf:ORG/NAME[@REV]``, fetched through huggingface_hub's cache and read with
``datasets``; ``HF_HUB_OFFLINE=1`` reads the cache only). Columns are named with
``data.text=COL data.label=COL`` (default ``text`` and ``label``).

Each reader returns plain lists per split (``train``, ``valid``, ``test``); data.py wraps them.
Bad values are reported like a file's lines, all at once (up to 20): ``PATH: row 17 (column
'sentence'): empty or missing text``. pyarrow and datasets are optional (``zoo-nlp[data]``).
"""
from __future__ import annotations

from pathlib import Path

from .errors import ZooError

MAX_REPORTED = 20
SPLIT_NAMES = {"train": "train", "validation": "valid", "valid": "valid", "dev": "valid", "test": "test"}
SAVED_MARKERS = ("dataset_dict.json", "state.json")
# only data files are fetched from a dataset repository: never code or pickle
HUB_DATA_FILES = ["*.parquet", "*.arrow", "*.json", "*.jsonl", "*.csv", "*.tsv", "*.txt", "*.md"]

Table = dict[str, tuple[list[str], list[str]]]  # split -> (texts, labels)


def _need(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"pyarrow.parquet": "pyarrow"}.get(module, module)
        raise ZooError(f"{what} needs {package}: pip install 'zoo-nlp[data]' (or pip install {package})") from None


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS)


def is_table_source(source: str) -> bool:
    """A Parquet file, a ``save_to_disk`` folder or an ``hf:`` dataset reference."""
    text = str(source)
    return text.startswith("hf:") or Path(text).suffix.lower() == ".parquet" or is_saved_dataset(Path(text))


def read_table(source: str, text: str = "text", label: str = "label") -> Table:
    """Every split of a table source, as (texts, labels) lists."""
    source = str(source)
    if source.startswith("hf:"):
        return _read_hub(source, text, label)
    path = Path(source)
    if path.suffix.lower() == ".parquet":
        return {"train": _read_parquet(path, text, label)}
    if is_saved_dataset(path):
        datasets = _need("datasets", f"{path} (a datasets save_to_disk folder)")
        return _read_datasets(datasets.load_from_disk(str(path)), str(path), text, label)
    raise ZooError(f"{source}: not a Parquet file, a datasets save_to_disk folder or hf:ORG/NAME")


def _read_parquet(path: Path, text: str, label: str) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise ZooError(f"{path}: file not found; give a .parquet file with {text} and {label} columns")
    pq = _need("pyarrow.parquet", "reading Parquet")
    try:
        names = pq.read_schema(str(path)).names
    except Exception as e:  # pyarrow's ArrowInvalid and friends
        raise ZooError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
    _check_columns(str(path), names, text, label)
    table = pq.read_table(str(path), columns=[text, label])
    return check_rows(str(path), table.column(text).to_pylist(), table.column(label).to_pylist(), text, label)


def _read_hub(source: str, text: str, label: str) -> Table:
    from .hub import hub_errors
    from .refs import parse_hub

    ref = parse_hub(source[3:], allow_part=False, text=source)
    hf_hub = _need("huggingface_hub", source)
    datasets = _need("datasets", f"{source} (a Hugging Face dataset)")
    with hub_errors(ref):
        try:
            folder = Path(hf_hub.snapshot_download(ref.repo, repo_type="dataset", revision=ref.revision,
                                                   allow_patterns=HUB_DATA_FILES))
        except hf_hub.errors.LocalEntryNotFoundError:
            if not hf_hub.constants.HF_HUB_OFFLINE:
                raise
            raise ZooError(f"{source}: not in the local Hub cache and HF_HUB_OFFLINE=1 forbids downloading; fetch "
                           f"it once with network access: hf download {ref.repo} --repo-type dataset") from None
    datasets.disable_progress_bars()  # zoo prints its own progress
    if is_saved_dataset(folder):
        loaded = datasets.load_from_disk(str(folder))
    else:
        try:
            loaded = datasets.load_dataset(str(folder))
        except Exception as e:  # no data files, unreadable files
            raise ZooError(f"{source}: datasets cannot read the files at commit {folder.name[:12]} "
                           f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return _read_datasets(loaded, source, text, label)


def _read_datasets(loaded, where: str, text: str, label: str) -> Table:
    """A datasets Dataset (one training split) or DatasetDict (train / validation / test)."""
    parts = dict(loaded) if hasattr(loaded, "keys") else {"train": loaded}
    out: Table = {}
    for name, part in parts.items():
        split = SPLIT_NAMES.get(name)
        if split is None or split in out:
            continue
        _check_columns(f"{where}[{name}]", part.column_names, text, label)
        feature = part.features.get(label)
        names = getattr(feature, "names", None)  # a ClassLabel stores ids; its names are the labels
        labels = list(part[label])
        if names:
            labels = [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in labels]
        out[split] = check_rows(f"{where}[{name}]", list(part[text]), labels, text, label)
    if "train" not in out:
        raise ZooError(f"{where}: no training split; it has {', '.join(parts) or 'none'} (zoo reads train, "
                       f"validation or valid or dev, and test)")
    return out


def _check_columns(where: str, names: list[str], text: str, label: str) -> None:
    missing = [c for c in (text, label) if c not in names]
    if missing:
        raise ZooError(f"{where}: no column {', '.join(repr(c) for c in missing)}; it has "
                       f"{', '.join(names) or 'no columns'}; name them with data.text=COL data.label=COL")


def check_rows(where: str, texts: list, labels: list, text: str, label: str) -> tuple[list[str], list[str]]:
    """Validated (texts, labels); every bad row reported at once, by 1-based row number."""
    good_texts, good_labels, problems = [], [], []
    for n, (t, y) in enumerate(zip(texts, labels), start=1):
        if not isinstance(t, str) or not t.strip():
            kind = "empty or missing" if t is None or isinstance(t, str) else f"not a string ({type(t).__name__})"
            problems.append(f"{where}: row {n} (column '{text}'): {kind} text")
        elif y is None or (isinstance(y, str) and not y.strip()):
            problems.append(f"{where}: row {n} (column '{label}'): empty or missing label")
        elif isinstance(y, (dict, list, tuple)):
            problems.append(f"{where}: row {n} (column '{label}'): label must be a string or number, "
                            f"got {type(y).__name__}")
        else:
            good_texts.append(t)
            good_labels.append(str(y).strip())
    if problems:
        more = len(problems) - MAX_REPORTED
        raise ZooError(*problems[:MAX_REPORTED], *([f"... and {more} more bad rows"] if more > 0 else []))
    if not good_texts:
        raise ZooError(f"{where}: no examples found")
    return good_texts, good_labels
