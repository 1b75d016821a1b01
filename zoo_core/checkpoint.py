"""Checkpoint directories: ``model.safetensors`` + ``config.json`` (+ ``README.md`` card).

Only safetensors and JSON are ever read back: never pickle, never an import path. The
config records, for each component, its kind, registered name, providing distribution and
version, and its config; loading rebuilds the model through the registry and loads the
weights strictly. The files of one save form one generation (``atomic.py``): a crash while
saving leaves the previous checkpoint intact and consistent. Files are written reproducibly
(same tensors, same bytes) with the usual permissions (umask), like any other file.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from . import atomic
from .errors import ZooError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def zoo_version() -> str:
    try:
        return metadata.version("zoo-nlp")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data) -> None:
    """Write ``data`` (bytes, or a list of byte buffers written one after another) to ``path``
    atomically (a temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make checkpoints private, unlike the rest
        with os.fdopen(fd, "wb") as f:
            for chunk in ([data] if isinstance(data, (bytes, bytearray, memoryview)) else data):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode("utf-8"))


def atomic_save_tensors(path: Path, tensors: dict, metadata_: dict[str, str] | None = None) -> None:
    """Write ``tensors`` as one safetensors file, atomically, streaming each tensor's bytes from
    its own memory (no copy of the tensors: a save of a large table and its optimizer state
    used to hold three). Reproducible: the same tensors give the same bytes."""
    import sys

    import torch

    data = {k: v.detach().to("cpu").contiguous() for k, v in pack_sparse(tensors).items()}
    if sys.byteorder != "little" or any(_safetensors_dtype(v.dtype) is None for v in data.values()):
        from safetensors.torch import save  # safetensors' own writer (it copies): a dtype not listed here

        data = {k: v.clone() for k, v in data.items()}
        return atomic_write_bytes(path, canonical_safetensors(save(data, metadata=metadata_)))
    # largest items first, then by name: every tensor starts aligned to its item size
    order = sorted(data, key=lambda k: (-data[k].element_size(), k))
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata_.items()))} if metadata_ else {}
    offset = 0
    for k in order:
        size = data[k].numel() * data[k].element_size()
        header[k] = {"dtype": _safetensors_dtype(data[k].dtype), "shape": list(data[k].shape),
                     "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    chunks = [len(text).to_bytes(8, "little") + text]
    chunks += [data[k].reshape(-1).view(torch.uint8).numpy() for k in order if data[k].numel()]
    atomic_write_bytes(path, chunks)


def canonical_safetensors(blob: bytes) -> bytes:
    """The same bytes for the same tensors: safetensors writes its metadata in hash order,
    which changes from process to process; sort it (the tensor data is untouched)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8: 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + n:]


_DTYPE_NAMES: dict = {}  # torch dtype -> safetensors' name, filled on first use (torch stays unimported)


def _safetensors_dtype(dtype) -> str | None:
    if not _DTYPE_NAMES:
        import torch

        names = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                 "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
        _DTYPE_NAMES.update({getattr(torch, t): n for n, t in names.items()})
    return _DTYPE_NAMES.get(dtype)


SPARSE = "::sparse_"


def pack_sparse(tensors: dict) -> dict:
    """safetensors stores dense tensors only. A sparse COO tensor (SGD's momentum buffer for a
    sparse-gradient embedding) is stored as its indices, values and size (+ coalesced flag),
    exactly as it is, uncoalesced duplicates included, so a resumed run adds it up in the
    same order and ends with bit-identical weights; ``unpack_sparse`` restores it."""
    import torch

    out = {}
    for k, v in tensors.items():
        if v.is_sparse:
            v = v.detach()
            out[f"{k}{SPARSE}indices"], out[f"{k}{SPARSE}values"] = v._indices(), v._values()
            out[f"{k}{SPARSE}size"] = torch.tensor([*v.shape, int(v.is_coalesced())], dtype=torch.int64)
        else:
            out[k] = v
    return out


def unpack_sparse(tensors: dict) -> dict:
    import torch

    out = {k: v for k, v in tensors.items() if SPARSE not in k}
    for k in [k[: -len(f"{SPARSE}size")] for k in tensors if k.endswith(f"{SPARSE}size")]:
        *size, coalesced = tensors[f"{k}{SPARSE}size"].tolist()
        out[k] = torch.sparse_coo_tensor(tensors[f"{k}{SPARSE}indices"], tensors[f"{k}{SPARSE}values"], size,
                                         is_coalesced=bool(coalesced), check_invariants=True)  # from a file
    return out


def requirements_of(run) -> list[str]:
    """Pinnable ``dist==version`` lines for every distribution the run's components come from,
    nested components (loss terms, inner optimizers) included."""
    reqs = {zoo_version_req()}
    for spec in run.model.components():
        reqs.update(s.requirement for s in spec.walk())
    return sorted(reqs)


def zoo_version_req() -> str:
    return f"zoo-nlp=={zoo_version()}"


def write_checkpoint(directory: str | Path, state_dict: dict, config: dict[str, Any], components: dict) -> Path:
    """Write ``model.safetensors`` then ``config.json`` (which pins the weights' sha256)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": "pt", "zoo_version": zoo_version(), "zoo_components": json.dumps(components)}
    weights_path = directory / WEIGHTS_FILE
    atomic_save_tensors(weights_path, state_dict, meta)
    config = {"zoo_format": FORMAT_VERSION, "zoo_version": zoo_version(), "library_name": "zoo", **config,
              "weights": {"file": WEIGHTS_FILE, "sha256": sha256_file(weights_path)}}
    atomic_write_json(directory / CONFIG_FILE, config)
    return directory


def saved_parts(spec: dict) -> dict[str, tuple[str, dict]]:
    """label -> (state-dict prefix, component spec) of a saved run spec: embed, mixer.N
    (and mixer when there is one), pool, head (when the spec names it: a checkpoint saved
    before heads were a component kind does not), loss, optim (no weights)."""
    model = spec["model"]
    mixers = model.get("mixer", [])
    out = {kind: (kind, model[kind]) for kind in ("embed", "pool", "head", "loss") if model.get(kind) is not None}
    for i, m in enumerate(mixers):
        out[f"mixer.{i}"] = (f"mixers.{i}", m)
    if len(mixers) == 1:
        out["mixer"] = ("mixers.0", mixers[0])
    if "optim" in model:
        out["optim"] = ("", model["optim"])
    return out


def read_config(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    path = atomic.resolve(directory, CONFIG_FILE)
    if not directory.is_dir():
        raise ZooError(f"{directory}: not a directory; give the folder a zoo model was saved to (zoo train --out DIR)")
    if not path.is_file():
        raise ZooError(f"{directory}: no {CONFIG_FILE}, so this is not a zoo checkpoint; "
                       f"give a folder written by zoo train or zoo build --out")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ZooError(f"{path}: not valid JSON ({e}); the file is damaged — re-save or re-download the model")
    if not isinstance(config, dict) or "spec" not in config or "zoo_format" not in config:
        raise ZooError(f"{path}: not a zoo config (no 'spec'/'zoo_format'); give a folder written by zoo")
    if config["zoo_format"] > FORMAT_VERSION:
        raise ZooError(f"{path}: written by a newer zoo (format {config['zoo_format']}); "
                       f"upgrade with: pip install -U zoo-nlp")
    return config


def check_requirements(requirements: list[str]) -> None:
    """Every ``dist==version`` a model needs must be installed at that version or newer."""
    from packaging.version import InvalidVersion, Version

    problems = []
    for req in requirements:
        dist, _, version = req.partition("==")
        try:
            have = metadata.version(dist)
        except metadata.PackageNotFoundError:
            problems.append(f"this model needs the plugin distribution {dist}, which is not installed; "
                            f"run: pip install '{dist}>={version}'")
            continue
        try:
            too_old = Version(have) < Version(version)
        except InvalidVersion:
            too_old = False
        if too_old:
            problems.append(f"this model needs {dist}>={version} but {have} is installed; "
                            f"run: pip install -U '{dist}>={version}'")
    if problems:
        raise ZooError(*problems)


def load_state_tensors(path: Path, expected_sha256: str | None = None) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if path.suffix in FORBIDDEN_SUFFIXES:
        raise ZooError(f"{path}: zoo never loads pickle-based files; only .safetensors weights are accepted")
    if not path.is_file():
        raise ZooError(f"{path}: weights file missing; the checkpoint is incomplete — re-save or re-download it")
    if expected_sha256 and sha256_file(path) != expected_sha256:
        raise ZooError(f"{path}: sha256 does not match config.json; the file is truncated, corrupted or "
                       f"was replaced — re-download or re-save the model")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ZooError(f"{path}: cannot read safetensors ({e}); the file is truncated or corrupted — "
                       f"re-download or re-save the model") from None


def load_weights_strict(model, tensors: dict, where: str) -> None:
    """Load a state dict, refusing missing/unexpected keys and shape or dtype mismatches."""
    own = model.state_dict()
    problems = []
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing:
        problems.append(f"{where}: weights missing for {len(missing)} tensor(s): {', '.join(missing[:5])}"
                        f"{' ...' if len(missing) > 5 else ''}; the file does not match its config")
    if unexpected:
        problems.append(f"{where}: {len(unexpected)} unexpected tensor(s): {', '.join(unexpected[:5])}"
                        f"{' ...' if len(unexpected) > 5 else ''}; the file does not match its config")
    for key in sorted(set(own) & set(tensors)):
        a, b = own[key], tensors[key]
        if a.shape != b.shape:
            problems.append(f"{where}: {key} has shape {tuple(b.shape)} but the model expects {tuple(a.shape)}")
        elif a.dtype != b.dtype:
            problems.append(f"{where}: {key} has dtype {b.dtype} but the model expects {a.dtype}")
    if problems:
        raise ZooError(*problems)
    model.load_state_dict(tensors, strict=True)


def read_weights(directory: Path, config: dict) -> dict:
    """The tensors of a checkpoint folder, after checking their sha256 against config.json."""
    weights = config.get("weights") if isinstance(config.get("weights"), dict) else {}
    name, sha = weights.get("file", WEIGHTS_FILE), weights.get("sha256")
    where = Path(directory) / CONFIG_FILE
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ZooError(f"{where}: weights file {name!r} is not a file name inside the model folder; zoo reads "
                       f"weights only from the folder itself — re-save or re-download the model")
    if Path(name).suffix in FORBIDDEN_SUFFIXES:
        raise ZooError(f"{where}: names {name}; zoo never loads pickle-based files; only .safetensors weights are "
                       f"accepted")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ZooError(f"{where}: no sha256 for the weights, so they cannot be checked; the config was edited or "
                       f"damaged — re-save or re-download the model")
    return load_state_tensors(atomic.resolve(directory, CONFIG_FILE).parent / name, sha)
