"""The model card (README.md): YAML front matter the Hugging Face Hub understands, then what
the model does, how to reproduce it, its components, data, results and limitations."""
from __future__ import annotations

import platform
from pathlib import Path

from .checkpoint import atomic_write_bytes, requirements_of
from .compose import count_parameters
from .registry import get_registry
from .spec import RunSpec


def spec_to_overrides(run: RunSpec) -> list[str]:
    """A fully explicit override list that rebuilds ``run`` (component fields only where they
    differ from the component's defaults)."""
    from .spec import DataConfig, ModelSpec, TokenizerConfig, TrainConfig

    reg = get_registry()
    m = run.model
    out = []
    for kind in ("embed", "mixer", "pool", "loss", "optim"):
        specs = m.mixer if kind == "mixer" else [getattr(m, kind)]
        names = [f"hf:{s.source.repo}@{s.source.sha}#{s.source.component}" if s.source else
                 s.name if len(reg.components.get((kind, s.name), [])) <= 1 else f"{s.dist}:{s.name}" for s in specs]
        out.append(f"{kind}=[{','.join(names)}]" if kind == "mixer" and len(names) != 1 else f"{kind}={names[0]}")
        for i, s in enumerate(specs):
            defaults = reg.resolve(kind, f"{s.dist}:{s.name}").config.model_fields
            prefix = f"mixer.{i}" if kind == "mixer" and len(specs) > 1 else kind
            for key, value in s.config.items():
                if key == "dim" or key not in defaults:
                    continue
                extra = defaults[key].json_schema_extra
                if isinstance(extra, dict) and extra.get("recorded"):  # recorded by the component, not typed
                    continue
                if value != defaults[key].get_default(call_default_factory=True):
                    out.append(f"{prefix}.{key}={_fmt(value)}")
    for key, field in ModelSpec.model_fields.items():
        if key in ("embed", "mixer", "pool", "loss", "optim", "num_classes"):
            continue
        if getattr(m, key) != field.default or key == "dim":
            out.append(f"{key}={_fmt(getattr(m, key))}")
    for section, cls in (("tokenizer", TokenizerConfig), ("train", TrainConfig), ("data", DataConfig)):
        obj = getattr(run, section)
        for key, field in cls.model_fields.items():
            value = getattr(obj, key)
            if value == field.get_default(call_default_factory=True):
                continue
            if section == "data" and key == "source":
                out.append(f"data={_fmt(value)}")
            elif section == "data" and key == "options":
                out += [f"data.options.{k}={_fmt(v)}" for k, v in value.items()]
            else:
                out.append(f"{section}.{key}={_fmt(value)}")
    out.append(f"seed={run.seed}")
    return out


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    return str(value)


def _component_rows(model) -> list[str]:
    reg = get_registry()
    rows = ["| kind | name | package | parameters | post | paper |", "|---|---|---|---:|---|---|"]
    for label, _attr, module, spec in model.parts() + [("optim", "", None, model.spec.optim)]:
        entry = reg.resolve(spec.kind, f"{spec.dist}:{spec.name}")
        params = f"{count_parameters(module)[0]:,}" if module is not None else "-"
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
    from huggingface_hub import EvalResult, ModelCardData

    run: RunSpec = model.run_spec
    m = run.model
    components = [m.embed.name, *[x.name for x in m.mixer], m.pool.name, m.loss.name, m.optim.name]
    dataset_name = (splits.name if splits else "") or (run.data.source or "")
    test = getattr(result, "test", None)
    best = getattr(result, "best", None) or {}
    scores = test or best
    split_name = "test" if test else "validation"
    from .tasks import get_task

    task = get_task(run.task)
    reported = [k for k in task.metrics if k != "loss" and isinstance(scores.get(k), (int, float))]
    metric_types = {k: "f1" if k == "macro_f1" else k.replace("@", "_at_") for k in reported}
    eval_results = []
    if scores and dataset_name:
        for key in reported:
            eval_results.append(EvalResult(task_type=task.pipeline_tag, dataset_type=dataset_name,
                                           dataset_name=dataset_name, dataset_split=split_name,
                                           metric_type=metric_types[key], metric_value=round(float(scores[key]), 4),
                                           metric_name="macro-F1" if key == "macro_f1" else key))
    data = ModelCardData(
        library_name="zoo", license=license or (splits.license if splits and splits.license else "other"),
        tags=["zoo", task.pipeline_tag, f"zoo-task-{task.name}", *[f"zoo-{c}" for c in dict.fromkeys(components)]],
        datasets=[dataset_name] if dataset_name else None, metrics=list(dict.fromkeys(metric_types.values())) or None,
        pipeline_tag=task.pipeline_tag, model_name=f"zoo-{'-'.join(dict.fromkeys(components[:3]))}",
        eval_results=eval_results or None)
    explicit = "zoo train " + " ".join(spec_to_overrides(run))
    labels = model.labels or []
    total, trainable = count_parameters(model)
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {data.model_name}", "",
        f"A small text classifier built with [zoo](https://pypi.org/project/zoo-nlp/): "
        f"`{m.embed.name}` embeddings -> {' -> '.join(f'`{x.name}`' for x in m.mixer) or 'no'} mixing -> "
        f"`{m.pool.name}` pooling -> a linear layer over {len(labels)} classes, trained with `{m.loss.name}` "
        f"and `{m.optim.name}`.",
        "", "## Use", "", "```bash", "pip install " + " ".join(f"'{r}'" for r in requirements_of(run)),
        "zoo predict PATH_OR_hf:ORG/NAME 'some text' --top-k 3", "```", "",
        "```python", "import zoo_core", "model = zoo_core.load('PATH')", "model.predict(['some text'])", "```", "",
        "## Reproduce", "", "```bash", command or explicit, "```", "",
    ]
    if command and command != explicit:
        lines += ["Fully explicit:", "", "```bash", explicit, "```", ""]
    lines += ["## Components", "", *_component_rows(model), "", *_source_lines(model),
              f"Parameters: {total:,} ({trainable:,} trainable). Width `dim={m.dim}`, dropout {m.dropout}, "
              f"positional encoding `{m.pos}`.", "",
              "## Training data", ""]
    if splits is not None:
        sizes = ", ".join(f"{name} {len(part):,}" for name, part in
                          (("train", splits.train), ("validation", splits.valid), ("test", splits.test)) if part)
        lines += [f"`{dataset_name}`: {splits.description or 'local file'} ({sizes}). "
                  f"Licence of the data: {splits.license or 'see source'}.", ""]
    tok = run.tokenizer
    lines += [f"Tokenization: `{tok.unit}`" + (f" ({tok.ngram_min}-{tok.ngram_max})" if tok.unit == "char_ngrams" else "")
              + f", lowercase={tok.lowercase}, at most {tok.max_tokens} tokens.", "",
              "Hyper-parameters: " + ", ".join(f"{k}={v}" for k, v in run.train.model_dump().items()) +
              f", seed={run.seed}.", "", "## Results", ""]
    if scores:
        lines += [f"Task `{run.task}`. On the {split_name} split: "
                  + ", ".join(f"{'macro-F1' if k == 'macro_f1' else k} **{scores[k]:.4f}**" for k in reported)
                  + (f" (best validation {task.primary_metric} {best[task.primary_metric]:.4f})"
                     if test and task.primary_metric in best else "") + ".", ""]
    if test and test.get("per_class"):
        lines += ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                  for label, v in test["per_class"].items()]
        lines.append("")
    if result is not None:
        lines += [f"Training: {result.epochs} epoch(s), {result.steps} steps, {result.seconds:.1f} s on {device} "
                  f"({platform.processor() or platform.machine()}, {_cpu_count()} cores, torch "
                  f"{_torch_version()}); stopped: {result.stopped}.", ""]
    lines += ["## Limitations", "",
              "A small model trained on one data set: expect it to fail on text unlike its training data "
              "(other domains, languages, lengths). Scores above are for the split named, not a guarantee. "
              "Read the attention weights (`zoo predict --explain`) before trusting a decision.", "",
              "## Plugin requirements", "", "```", *requirements_of(run), "```", ""]
    return "\n".join(lines)


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
