"""The model card (README.md): YAML front matter the Hugging Face Hub understands, then what
the model does, how to reproduce it, its components, data, results and limitations."""
from __future__ import annotations

import platform
from pathlib import Path

from . import grammar
from .checkpoint import atomic_write_bytes, requirements_of
from .overrides import to_overrides
from .registry import get_registry
from .tasks import get_task, metric_title


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def _component_rows(model) -> list[str]:
    reg = get_registry()
    rows = ["| kind | name | package | parameters | post | paper |", "|---|---|---|---:|---|---|"]
    for label, _attr, module, spec in model.parts() + [("optim", "", None, model.spec.optim)]:
        entry = reg.resolve(spec.kind, f"{spec.dist}:{spec.name}")
        params = f"{_count(module):,}" if module is not None else "-"
        rows.append(f"| {label} | `{spec.name}` | {spec.dist}=={spec.version} | {params} | {entry.post or '-'} | "
                    f"{entry.paper or '-'} |")
    return rows


def _source_lines(model) -> list[str]:
    """Pretrained components, each pinned to the commit its weights came from."""
    from huggingface_hub import constants

    rows = [f"- {label}: `{spec.name}` from [{spec.source.repo}]({constants.ENDPOINT}/{spec.source.repo}/tree/"
            f"{spec.source.sha}) part `{spec.source.component}`, revision `{spec.source.revision}` = commit "
            f"`{spec.source.sha}`" for label, _attr, _module, spec in model.parts() if spec.source]
    return ["Pretrained components (weights read from the pinned commit):", "", *rows, ""] if rows else []


def render_card(model, *, splits=None, result=None, device: str = "cpu", command: str = "",
                license: str | None = None) -> str:
    """The model card: Hub front matter, then use, reproduce, components, data, results."""
    run = model.run
    task = get_task(run.task)
    test = getattr(result, "test", None)
    best = getattr(result, "best", None) or {}
    scores, split_name = (test, "test") if test else (best, "validation")
    reported = [k for k in task.metrics if k != "loss" and isinstance(scores.get(k), (int, float))]
    dataset_name = (splits.name if splits else "") or (run.data.source or "")
    data = _card_data(model, task, scores, reported, split_name, dataset_name,
                      license or (splits.license if splits and splits.license else "other"))
    files = _local_files(run)
    explicit = _without_paths("zoo train " + " ".join(to_overrides(run)), files)
    command = _without_paths(command, files)
    lines = ["---", data.to_yaml(), "---", "", f"# {data.model_name}", "", _summary(model), "",
             *_use_lines(run), "## Reproduce", "", "```bash", command or explicit, "```", ""]
    if command and command != explicit:
        lines += ["Fully explicit:", "", "```bash", explicit, "```", ""]
    lines += _file_lines(files)
    total, trainable = _count(model), sum(p.numel() for p in model.parameters() if p.requires_grad)
    m = run.model
    lines += ["## Components", "", *_component_rows(model), "", *_source_lines(model),
              f"Parameters: {total:,} ({trainable:,} trainable). Width `dim={m.dim}`, dropout {m.dropout}, "
              f"positional encoding `{m.pos}`.", "", "## Training data", "", *_data_lines(run, splits, dataset_name),
              "## Results", ""]
    if scores:
        lines += [f"Task `{run.task}`. On the {split_name} split: "
                  + ", ".join(f"{metric_title(k)} **{scores[k]:.4f}**" for k in reported)
                  + (f" (best validation {metric_title(task.primary_metric)} {best[task.primary_metric]:.4f})"
                     if test and task.primary_metric in best else "") + ".", ""]
    lines += _per_class_lines(test) + _training_lines(result, device)
    lines += ["## Limitations", "",
              "A small model trained on one data set: expect it to fail on text unlike its training data "
              "(other domains, languages, lengths). Scores above are for the split named, not a guarantee. "
              "Read the attention weights (`zoo predict --explain`) before trusting a decision.", "",
              "## Plugin requirements", "", "```", *requirements_of(run), "```", ""]
    return "\n".join(lines)


def _card_data(model, task, scores, reported, split_name, dataset_name, license):
    from huggingface_hub import EvalResult, ModelCardData

    m = model.spec
    components = [m.embed.name, *[x.name for x in m.mixer], m.pool.name, m.loss.name, m.optim.name]
    metric_types = {k: "f1" if k == "macro_f1" else k.replace("@", "_at_") for k in reported}
    eval_results = [EvalResult(task_type=task.pipeline_tag, dataset_type=dataset_name, dataset_name=dataset_name,
                               dataset_split=split_name, metric_type=metric_types[k],
                               metric_value=round(float(scores[k]), 4), metric_name=metric_title(k))
                    for k in reported] if scores and dataset_name else []
    return ModelCardData(
        library_name="zoo", license=license,
        tags=["zoo", task.pipeline_tag, f"zoo-task-{task.name}", *[f"zoo-{c}" for c in dict.fromkeys(components)]],
        datasets=[dataset_name] if dataset_name else None, metrics=list(dict.fromkeys(metric_types.values())) or None,
        pipeline_tag=task.pipeline_tag, model_name=f"zoo-{'-'.join(dict.fromkeys(components[:3]))}",
        eval_results=eval_results or None)


def _summary(model) -> str:
    m, labels = model.spec, model.labels or []
    head = f"a linear layer over {len(labels)} classes" if model.head is not None else "no class head"
    return (f"A small text model built with [zoo](https://pypi.org/project/zoo-nlp/): `{m.embed.name}` embeddings "
            f"-> {' -> '.join(f'`{x.name}`' for x in m.mixer) or 'no'} mixing -> `{m.pool.name}` pooling -> "
            f"{head}, trained with `{m.loss.name}` and `{m.optim.name}`.")


def _local_files(run) -> dict[str, Path]:
    """data=, data.valid=, data.test= that name local files (recorded by name and sha256 only:
    a local path leaks the author's folders and cannot be rerun elsewhere)."""
    keys = {"data": run.data.source, "data.valid": run.data.valid, "data.test": run.data.test}
    return {k: Path(v) for k, v in keys.items() if v and Path(v).is_file()}


def _without_paths(command: str, files: dict[str, Path]) -> str:
    words = command.split(" ") if command else []
    return " ".join(f"{w.split('=')[0]}={files[w.split('=')[0]].name}" if w.split("=")[0] in files else w
                    for w in words)


_SHA: dict[tuple, str] = {}  # (path, size, mtime) -> sha256: a card is written at every best epoch


def _file_lines(files: dict[str, Path]) -> list[str]:
    from .checkpoint import sha256_file

    if not files:
        return []
    rows = []
    for key, path in files.items():
        stat = path.stat()
        stamp = (str(path), stat.st_size, stat.st_mtime_ns)
        if stamp not in _SHA:
            _SHA[stamp] = sha256_file(path)
        rows.append(f"- `{key}`: `{path.name}`, sha256 `{_SHA[stamp]}`")
    return ["Local data files (not included): give each one's path in place of its name above; "
            "`sha256sum FILE` must print the same hash.", "", *rows, ""]


def _use_lines(run) -> list[str]:
    return ["## Use", "", "```bash", "pip install " + " ".join(f"'{r}'" for r in requirements_of(run)),
            "# zoo-nlp and its plugins may not be on PyPI yet: then install them from their source checkouts,",
            "# e.g. pip install -e PATH/TO/zoo (and pip install -e for each plugin distribution)",
            "zoo predict PATH_OR_hf:ORG/NAME 'some text' --top-k 3", "```", "",
            "```python", "import zoo_core", "model = zoo_core.load('PATH')", "model.predict(['some text'])", "```", ""]


def _data_lines(run, splits, dataset_name) -> list[str]:
    lines = []
    if splits is not None:
        sizes = ", ".join(f"{name} {len(part):,}" for name, part in
                          (("train", splits.train), ("validation", splits.valid), ("test", splits.test)) if part)
        lines += [f"`{dataset_name}`: {splits.description or 'local file'} ({sizes}). "
                  f"Licence of the data: {splits.license or 'see source'}.", ""]
    tok = run.tokenizer
    grams = f" ({tok.ngram_min}-{tok.ngram_max})" if tok.unit == "char_ngrams" else ""
    hyper = ", ".join(grammar.format_pair(k, v) for k, v in run.train.model_dump().items())
    return lines + [f"Tokenization: `{tok.unit}`{grams}, lowercase={tok.lowercase}, at most {tok.max_tokens} tokens.",
                    "", f"Hyper-parameters: {hyper}, seed={run.seed}.", ""]


def _per_class_lines(test) -> list[str]:
    if not test or not test.get("per_class"):
        return []
    return ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|",
            *[f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
              for label, v in test["per_class"].items()], ""]


def _training_lines(result, device) -> list[str]:
    if result is None:
        return []
    return [f"Training: {result.epochs} epoch(s), {result.steps} steps, {result.seconds:.1f} s on {device} "
            f"({platform.processor() or platform.machine()}, {_cpu_count()} cores, torch "
            f"{_torch_version()}); stopped: {result.stopped}.", ""]


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _torch_version() -> str:
    import torch

    return torch.__version__


def write_card(directory: str | Path, model, **kwargs) -> Path:
    path = Path(directory) / "README.md"
    atomic_write_bytes(path, render_card(model, **kwargs).encode("utf-8"))
    return path
