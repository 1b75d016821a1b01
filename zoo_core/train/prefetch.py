"""Encoding the next batch while the current one trains."""
from __future__ import annotations


class Prefetcher:
    """Encodes batch b+1 on a worker thread while batch b trains: encoding is Python work
    (tokens -> codes) that overlaps torch's GIL-free compute. One worker, in order, so the
    embedder's caches see one caller at a time; ``close`` waits for it before anything
    else (validation) encodes."""

    def __init__(self, fn, first: int, end: int):
        from concurrent.futures import ThreadPoolExecutor

        self.fn, self.end = fn, end
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-encode")
        self.pending = {first: self.pool.submit(fn, first)} if first < end else {}

    def get(self, b: int):
        future = self.pending.pop(b, None)
        result = future.result() if future is not None else self.fn(b)
        if b + 1 < self.end:
            self.pending[b + 1] = self.pool.submit(self.fn, b + 1)
        return result

    def close(self) -> None:
        for future in self.pending.values():
            future.cancel()
        self.pool.shutdown(wait=True)
        self.pending.clear()
