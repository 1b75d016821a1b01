"""Encoding the next batch while the current one trains."""
from __future__ import annotations


class Prefetcher:
    """Encodes batch b+1 on a worker thread while batch b trains: encoding token strings is
    Python work (tokens -> codes) that overlaps torch's GIL-free compute. One worker, in order,
    so the embedder's caches see one caller at a time; ``close`` waits for it before anything
    else (validation) encodes. ``threaded=False`` encodes each batch when it is asked for: for
    batches that are slices of featurised arrays (zoo_core.batches.IdFeatures, ~0.1 ms a batch)
    the thread's hand-offs cost more CPU than the overlap saves (docs/benchmarks/overhead.md)."""

    def __init__(self, fn, first: int, end: int, threaded: bool = True):
        self.fn, self.end, self.pool = fn, end, None
        self.pending = {}
        if threaded:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-encode")
            self.pending = {first: self.pool.submit(fn, first)} if first < end else {}

    def get(self, b: int):
        future = self.pending.pop(b, None)
        result = future.result() if future is not None else self.fn(b)
        if self.pool is not None and b + 1 < self.end:
            self.pending[b + 1] = self.pool.submit(self.fn, b + 1)
        return result

    def close(self) -> None:
        for future in self.pending.values():
            future.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pending.clear()
