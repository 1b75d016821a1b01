"""Where the model runs: the device a run names, and torch.compile with an eager fallback."""
from __future__ import annotations

import torch

from ..errors import ZooError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"device={name}: CUDA is not available on this machine; use device=cpu or device=auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ZooError(f"device={name}: unknown device; use auto, cpu, cuda or cuda:N") from None


class CompiledOrEager:
    """``torch.compile`` where it works on this machine; on the first failure (no C++
    compiler, an unsupported op, ...) it says so once and runs the model eagerly."""

    def __init__(self, module, log):
        self.module, self.log = module, log
        self.compiled = torch.compile(module, dynamic=True)
        self.failed = False

    def __call__(self, *args, **kwargs):
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # compilation errors surface on the first call
                self.failed = True
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.log(f"compile=true: torch.compile does not work here ({type(exc).__name__}: {first[:200]}); "
                         f"training continues without compilation")
        return self.module(*args, **kwargs)
