"""``zoo export``: a trained model as ONNX or TorchScript for deployment without zoo
(see docs/deploy.md). torch is imported inside the command, so ``zoo --help`` stays fast."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo_core.errors import ZooError

from .main import _plain, command, out

FORMATS = ("onnx", "torchscript")


@command("export")
def export_cmd(
    model_ref: str = typer.Argument(..., metavar="MODEL", help="a model folder (zoo train --out DIR) or hf:ORG/NAME[@REV]"),
    fmt: str = typer.Option("onnx", "--format", "-f", help="onnx (run with onnxruntime) or torchscript"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="output file (default: MODEL/model.onnx or "
                                                                "MODEL/model.torchscript); metadata goes to FILE.json"),
):
    """Export a model that takes the embedder's encoded tensors + mask and returns logits
    (dynamic batch and length), checked against zoo's own outputs."""
    if fmt not in FORMATS:
        raise ZooError(f"--format {fmt}: unknown export format; choose {' or '.join(FORMATS)}")
    from zoo_core.model import ZooModel
    from zoo_tools.export import SUFFIX, export

    model = ZooModel.from_pretrained(model_ref)
    if out_file is None:
        if model_ref.startswith("hf:"):
            raise ZooError(f"{model_ref}: give --out FILE when exporting a Hub model")
        out_file = Path(model_ref) / f"model{SUFFIX[fmt]}"
    path, meta = export(model, fmt, out_file)
    out.print(f"exported {_plain(model_ref)} as {fmt} to {_plain(str(path))} (checked against zoo's logits on "
              f"another batch shape)")
    out.print(f"inputs, labels and tokenizer: {_plain(str(meta))}; how to run it without zoo: docs/deploy.md")
