"""Saving while training: the best checkpoint (kept in memory, written at a save), metrics.jsonl
and the resume state, written together as ONE generation (``zoo_core.atomic``), so a kill at
any moment leaves a folder that loads and a ``--resume`` that ends bit-identical."""
from __future__ import annotations

import contextlib
import json
import shutil
import time

from ..atomic import generation
from ..checkpoint import atomic_write_bytes
from .state import STATE_DIR, save_state

METRICS_FILE = "metrics.jsonl"


class Checkpointing:
    """The trainer's saves (a mixin of ``Trainer``: it reads the run, the model, the state)."""

    def _checkpoint(self):
        return generation(self.out_dir) if self.is_main else contextlib.nullcontext()

    def _save_all(self, keep_state: bool = True) -> None:
        """One save (one generation): the best checkpoint if newer than the one on disk,
        metrics.jsonl, and the resume state (dropped instead when ``keep_state`` is false)."""
        with self._checkpoint():
            self._flush_best()
            if self.is_main:
                with generation(self.out_dir) as staging:
                    atomic_write_bytes(staging / METRICS_FILE,
                                       "".join(json.dumps(r) + "\n" for r in self.state.history).encode())
                    if not keep_state:
                        shutil.rmtree(staging / STATE_DIR, ignore_errors=True)
                if keep_state:
                    save_state(self.out_dir, self)
        self._saved_at = time.perf_counter()

    def _save_model(self, training: dict, state_dict: dict | None = None) -> None:
        if self.is_main:
            self.model.save_pretrained(self.out_dir, extra={"training": {**training, "command": self.command}},
                                       state_dict=state_dict, splits=self.splits, device=str(self.device),
                                       command=self.command)

    def _flush_best(self) -> None:
        if self._best is not None and not self._best_written:
            self._save_model(self._best[1], self._best[0])
            self._best_written = True
