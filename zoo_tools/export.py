"""Export a ZooModel for deployment: ONNX (run by onnxruntime) or TorchScript.

The exported graph starts after numericalisation: it takes the tensors the embedder's
``encode()`` returns, positionally, in the order ``input_names(model)`` gives (the order
``encode()`` builds its dict, with ``mask`` moved last), and returns the class ``logits``
(B, num_classes). Batch size, sequence length and any other axis that varies with the data
(e.g. the longest word of a character embedder) are dynamic. For the built-in embedders:

    hash       bits (B, T, num_hashes) int64, bit_weight (B, T, num_hashes) float32, mask (B, T) bool
    full       ids (B, T) int64, mask (B, T) bool
    char_cnn   chars (B, T, L) int64, mask (B, T) bool
    char_pos   chars (B, T, L) int64, mask (B, T) bool

An ONNX export of a bag model (``hash`` embedder, no mixer, mean pooling: the default recipe)
takes the flat bag form instead (``zoo_tools.bag_export``: bag_bits, bag_text, bag_scale; no
padding); ``FILE.json``'s ``graph`` says which form ("bag" or "padded").

Text -> tokens -> those tensors stays outside the graph; ``export`` writes everything a
deployment needs to reproduce it without zoo next to the model (``FILE.json``: tokenizer
config, labels, the embedder's name, config and JSON state, the input order) and, for an
embedder that consumes token ids (``hash`` with ``hash=fnv1a64``), ``featurize.py``: zoo's own
vectorised featurizer, which needs only numpy. docs/deploy.md specifies the numericalisation
and has a numpy + onnxruntime example.

ONNX uses the torch.export-based exporter (``torch.onnx.export(..., dynamo=True)``, the
default since torch 2.9; it needs the ``onnxscript`` package). TorchScript uses
``torch.jit.trace`` (deprecated upstream but still shipped). Every export is checked: the
artefact is run on a batch with other shapes than the export example and must match the
model's logits; a component that cannot be exported is named in a one-line ZooError that
says which format does work for it.
"""
from __future__ import annotations

import contextlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.errors import ZooError

from . import bag_export

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript"}
META_FORMAT = 1
ATOL, RTOL = 1e-4, 1e-4

# two example batches with different batch sizes, lengths and word lengths: the first is
# traced, the second checks that the artefact generalises (dynamic axes are those whose
# sizes differ between the two encodings)
EXAMPLE = [["zoo", "export"], ["a"], ["an", "example", "of", "five", "tokens"]]
CHECK = [["different", "shapes", "here"], ["x"], ["yet", "another", "check", "batch", "with", "seven", "words"],
         ["ünïcödé", "字"]]


# ---- the exported module ---------------------------------------------------------------
def input_names(model) -> list[str]:
    """The encode() keys in the order the exported model takes them: as encode() builds its
    dict, with ``mask`` last."""
    keys = list(model.encode(EXAMPLE))
    return [k for k in keys if k != "mask"] + ["mask"]


class ExportWrapper(nn.Module):
    """``logits = model({name: tensor})`` for the encode() tensors given positionally."""

    def __init__(self, model, names: list[str]):
        super().__init__()
        self.model, self.names = model, list(names)

    def forward(self, *tensors: Tensor) -> Tensor:
        return self.model(dict(zip(self.names, tensors)))["logits"]


def _encoded(model, names: list[str], token_lists) -> tuple[Tensor, ...]:
    enc = model.encode(token_lists)
    return tuple(enc[k] for k in names)


def dynamic_axes(model, names: list[str]) -> dict[str, dict[int, str]]:
    """{input: {axis: name}} for every axis whose size differs between EXAMPLE and CHECK."""
    a, b = _encoded(model, names, EXAMPLE), _encoded(model, names, CHECK)
    axes: dict[str, dict[int, str]] = {}
    for name, x, y in zip(names, a, b):
        axes[name] = {i: ("batch" if i == 0 else "tokens" if i == 1 else f"{name}_{i}")
                      for i, (p, q) in enumerate(zip(x.shape, y.shape)) if p != q}
    return axes


@contextlib.contextmanager
def portable_ops():
    """While exporting, compute fixed-width ``F.embedding_bag`` bags (2D input, no offsets,
    the hash embedder's form) as a gather and a sum: the exporters otherwise turn each bag
    into a loop iteration, which made onnxruntime ~10x slower than torch. The result is the
    same sum; other calls go to the original function."""
    original = F.embedding_bag

    def gather_bags(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                    mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                    padding_idx=None):
        if input.dim() != 2 or offsets is not None or max_norm is not None or padding_idx is not None \
                or mode not in ("sum", "mean"):
            return original(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                            per_sample_weights, include_last_offset, padding_idx)
        rows = weight[input]  # (N, k, dim)
        if per_sample_weights is not None:
            rows = rows * per_sample_weights.unsqueeze(-1).to(rows.dtype)
        return rows.sum(1) if mode == "sum" else rows.mean(1)

    F.embedding_bag = gather_bags
    try:
        yield
    finally:
        F.embedding_bag = original


# ---- one format ------------------------------------------------------------------------
class Artefact:
    """A loaded export, called like the wrapper: ``artefact(*tensors) -> logits`` (numpy)."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = Path(path), fmt
        if fmt == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            self.names = [i.name for i in self.session.get_inputs()]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still shipped
                self.module = torch.jit.load(str(path))  # TorchScript archive; never torch.load

    def __call__(self, *tensors: Tensor):
        if self.fmt == "onnx":
            return self.session.run(None, {n: t.numpy() for n, t in zip(self.names, tensors)})[0]
        with torch.no_grad():
            return self.module(*tensors).numpy()


@contextlib.contextmanager
def _quiet():
    """Export under portable_ops, no grad, without the exporters' progress lines and warnings
    (tracer and deprecation chatter: every export is checked against zoo's outputs instead)."""
    import logging

    import torch.export  # noqa: F401 (registers torch's loggers before they are quietened)

    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "torch" or name.startswith("torch.")]
    levels = [log.level for log in loggers]
    with portable_ops(), warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(_Sink()), \
            contextlib.redirect_stderr(_Sink()):
        warnings.simplefilter("ignore")
        for log in loggers:
            log.setLevel(logging.CRITICAL)  # e.g. the whole graph, logged when a guard fails
        try:
            yield
        finally:
            for log, level in zip(loggers, levels):
                log.setLevel(level)


def _graph(module: nn.Module, names: list[str], args: tuple[Tensor, ...], axes, bounds: dict | None = None):
    """torch.export's program of ``module`` (step 1 of the ONNX export) with the dynamic axes;
    ``bounds``: an axis label's largest size (a padded graph's tokens: the tokenizer's max_tokens,
    which a mixer with a max_len, e.g. gMLP's spatial weights, needs to know)."""
    bounds = {k: v for k, v in (bounds or {}).items() if v}
    shared = {label: torch.export.Dim(label, **({"max": bounds[label]} if label in bounds else {}))
              for a in axes.values() for label in a.values()}
    dims = tuple({i: shared[label] for i, label in axes[n].items()} or None for n in names)
    with _quiet():
        # one dynamic_shapes entry: the *tensors argument, a tuple of the inputs
        return torch.export.export(module, args, dynamic_shapes=(dims,), strict=False)


def _write(module: nn.Module, names: list[str], args: tuple[Tensor, ...], axes, path: Path, fmt: str,
           bounds: dict | None = None) -> None:
    if fmt == "onnx":
        _require_onnx()
        program = _graph(module, names, args, axes, bounds)
        with _quiet():
            torch.onnx.export(program, args, str(path), input_names=names, output_names=["logits"],
                              dynamo=True, external_data=False, verbose=False)
    else:
        with _quiet():
            torch.jit.trace(module, args, check_trace=False).save(str(path))


class _Sink:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _require_onnx() -> None:
    missing = []
    for mod in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise ZooError(f"ONNX export needs {', '.join(missing)}: pip install 'zoo-nlp[export]' (from a zoo "
                       f"checkout: pip install -e '.[export]'; or: pip install onnx onnxscript onnxruntime)")


def _exports(module: nn.Module, names, args, check_args, axes, path: Path, fmt: str, expected: Tensor,
             graph_only: bool = False, bounds: dict | None = None) -> str | None:
    """None if ``module`` exports to ``fmt`` and reproduces ``expected`` on ``check_args``,
    else a short reason. ``graph_only`` (onnx): stop after torch.export and run its program,
    which finds most problems in a fraction of the time."""
    try:
        if graph_only and fmt == "onnx":
            with torch.no_grad():
                got = _graph(module, names, args, axes, bounds).module()(*check_args)
        else:
            _write(module, names, args, axes, path, fmt, bounds)
    except ZooError:
        raise
    except Exception as e:  # the exporters raise many kinds; the reason is reported, not the trace
        return _first_line(e)
    if not (graph_only and fmt == "onnx"):
        try:
            got = torch.from_numpy(Artefact(path, fmt)(*check_args))
        except Exception as e:
            return f"the exported graph fails on another batch shape: {_first_line(e)}"
    if got.shape != expected.shape:
        return f"output shape {tuple(got.shape)} instead of {tuple(expected.shape)} on another batch shape"
    if not torch.allclose(got.float(), expected.float(), atol=ATOL, rtol=RTOL):
        err = float((got.float() - expected.float()).abs().max())
        return f"outputs differ from zoo's by up to {err:.2g} on another batch shape (shapes baked into the graph)"
    return None


def _first_line(e: Exception) -> str:
    """The exporters wrap the real error in pages of advice: keep its first informative line."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if "## Exception summary" in lines:
        lines = lines[lines.index("## Exception summary") + 1:]
    text = lines[0] if lines else type(e).__name__
    if text.startswith("The following operation failed in the TorchScript interpreter"):
        text = lines[-1]  # the interpreter's own error comes last
    text = re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"\1", text)
    return (text[:200] + "...") if len(text) > 200 else text


class _MixerAlone(nn.Module):
    def __init__(self, mixer):
        super().__init__()
        self.mixer = mixer

    def forward(self, *tensors: Tensor) -> Tensor:  # (x, mask), positional like ExportWrapper
        return self.mixer(*tensors)


class _PoolAlone(nn.Module):
    def __init__(self, pool):
        super().__init__()
        self.pool = pool

    def forward(self, *tensors: Tensor) -> Tensor:  # (x, mask)
        return self.pool(*tensors)[0]


class _EmbedAlone(nn.Module):
    def __init__(self, embed, names: list[str]):
        super().__init__()
        self.embed, self.names = embed, names

    def forward(self, *tensors: Tensor) -> Tensor:  # the encode() tensors, like ExportWrapper
        return self.embed(dict(zip(self.names, tensors)))


def _embed_reason(model, fmt: str, tmp: Path, graph_only: bool = False) -> str | None:
    names = input_names(model)
    module = _EmbedAlone(model.embed, names).eval()
    args, check_args = _encoded(model, names, EXAMPLE), _encoded(model, names, CHECK)
    with torch.no_grad():
        expected = module(*check_args)
    return _exports(module, names, args, check_args, dynamic_axes(model, names), tmp / f"embed{SUFFIX[fmt]}", fmt,
                    expected, graph_only, {"tokens": model.run.tokenizer.max_tokens})


def _component_reason(module: nn.Module, dim: int, fmt: str, tmp: Path, graph_only: bool = False) -> str | None:
    """Whether a lone mixer or pooler exports to ``fmt`` (None) or why not."""
    gen = torch.Generator().manual_seed(0)
    x, x2 = torch.randn(3, 5, dim, generator=gen), torch.randn(4, 7, dim, generator=gen)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    mask2 = torch.arange(7).unsqueeze(0) < torch.tensor([[3], [1], [7], [2]])
    with torch.no_grad():
        expected = module(x2, mask2)
    axes = {"x": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}}
    return _exports(module, ["x", "mask"], (x, mask), (x2, mask2), axes, tmp / f"part{SUFFIX[fmt]}", fmt, expected,
                    graph_only, {"tokens": getattr(module, "max_len", None)})


def _blame(model, fmt: str, tmp: Path, whole: str) -> str:
    """The first component that does not export to ``fmt`` (found quickly: for ONNX, by
    torch.export alone), and whether the other format fully works for it; ``whole`` is why
    the whole model failed."""
    other = [f for f in FORMATS if f != fmt][0]
    parts = [(label, _MixerAlone(m.eval()), ms) for (label, _, _, ms), m in
             zip([p for p in model.parts() if p[1].startswith("mixers.")], model.mixers)]
    parts.append(("pool", _PoolAlone(model.pool), model.spec.pool))
    parts.append(("embed", None, model.spec.embed))
    for label, module, spec in parts:
        def probe(f, graph_only=False):
            if module is None:
                return _embed_reason(model, f, tmp, graph_only)
            return _component_reason(module, model.spec.dim, f, tmp, graph_only)

        reason = probe(fmt, graph_only=True)
        if reason is None:
            continue
        works = probe(other) is None
        advice = (f"use --format {other}, which works for it" if works else
                  f"neither onnx nor torchscript works for it; choose another {spec.kind} to deploy outside zoo")
        return f"{label}={spec.name} cannot be exported to {fmt} ({reason}); {advice}"
    return (f"the model cannot be exported to {fmt} ({whole}); no single component is the cause; "
            f"try --format {other}")


# ---- the entry point -------------------------------------------------------------------
def metadata(model, fmt: str, names: list[str], axes, example: tuple[Tensor, ...], graph: str) -> dict[str, Any]:
    """What a deployment needs besides the graph: tokenizer, labels, numericalisation, inputs."""
    from zoo_core.checkpoint import zoo_version

    run = getattr(model, "run_spec", None)
    tokenizer = run.tokenizer.model_dump(mode="json") if run is not None else None
    example = dict(zip(names, example))
    meta = {
        "zoo_export": META_FORMAT,
        "zoo_version": zoo_version(),
        "format": fmt,
        "graph": graph,
        "inputs": [{"name": n, "dtype": str(example[n].dtype).removeprefix("torch."),
                    "shape": [axes[n].get(i, int(s)) for i, s in enumerate(example[n].shape)]} for n in names],
        "outputs": [{"name": "logits", "shape": ["batch", len(model.labels or []) or model.spec.num_classes]}],
        "labels": list(model.labels) if getattr(model, "labels", None) else None,
        "tokenizer": tokenizer,
        "embed": {"name": model.spec.embed.name, "dist": model.spec.embed.dist,
                  "config": model.spec.embed.config, "state": model.embed.state_json()},
    }
    if graph == "bag":
        meta["pooling"] = model.pool.bag_pooling
    return meta


def _graph_form(model, fmt: str):
    """(graph kind, module, input names, axes, example args, check args): the bag-form graph
    for bag models exported to ONNX (zoo_tools.bag_export), else the padded encode() form."""
    if fmt == "onnx" and bag_export.applicable(model):
        return ("bag", bag_export.BagGraph(model).eval(), bag_export.NAMES, bag_export.AXES,
                bag_export.example(model, EXAMPLE), bag_export.example(model, CHECK))
    names = input_names(model)
    return ("padded", ExportWrapper(model, names).eval(), names, dynamic_axes(model, names),
            _encoded(model, names, EXAMPLE), _encoded(model, names, CHECK))


def export(model, fmt: str, out: str | Path, check: bool = True) -> tuple[Path, Path]:
    """Write ``model`` to ``out`` as ``fmt`` and its metadata to ``out`` + ``.json``;
    returns both paths. Raises ZooError naming the component when it cannot be exported."""
    import tempfile

    if fmt not in FORMATS:
        raise ZooError(f"--format {fmt}: unknown export format; choose {' or '.join(FORMATS)}")
    if model.head is None:
        raise ZooError(f"loss={model.spec.loss.name} scores pooled vectors, not class logits; only models with "
                       f"class logits (e.g. loss=cross_entropy) can be exported")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    graph, module, names, axes, args, check_args = _graph_form(model, fmt)
    padded_names = input_names(model)
    with torch.no_grad():  # zoo's own logits on the check batch, by its padded path
        expected = ExportWrapper(model, padded_names).eval()(*_encoded(model, padded_names, CHECK))
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".zoo-export-") as tmp:
        tmp_path = Path(tmp) / f"model{SUFFIX[fmt]}"
        bounds = None if graph == "bag" else {"tokens": model.run.tokenizer.max_tokens}  # bag: tokens of all texts
        reason = _exports(module, names, args, check_args, axes, tmp_path, fmt, expected, bounds=bounds) if check else None
        if not check:
            _write(module, names, args, axes, tmp_path, fmt, bounds)
        if reason is not None:
            raise ZooError(_blame(model, fmt, Path(tmp), reason))
        tmp_path.replace(out)
    meta_path = out.with_name(out.name + ".json")
    from zoo_core.checkpoint import atomic_write_json

    meta = metadata(model, fmt, names, axes, args, graph)
    if getattr(model.embed, "id_layout", None) == "token_id64":  # the numpy featurizer zoo itself runs
        import shutil

        from zoo_core import featurize

        shutil.copyfile(featurize.__file__, out.with_name("featurize.py"))
        meta["featurizer"] = "featurize.py"
    atomic_write_json(meta_path, meta)
    return out, meta_path


def load_artefact(path: str | Path) -> tuple[Artefact, dict[str, Any]]:
    """An exported model and its metadata (``FILE.json``), for checks and benchmarks."""
    path = Path(path)
    meta = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
    return Artefact(path, meta["format"]), meta
