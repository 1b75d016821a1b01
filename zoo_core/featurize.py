"""Vectorised featurisation: texts -> flat 64-bit token ids + offsets, and the ``hash``
embedder's bits, in whole-array numpy operations (no Python loop over tokens).

This file imports nothing but numpy, so it doubles as the standalone featurizer of a
deployment: ``zoo export`` copies it next to the ONNX model (docs/deploy.md), and zoo itself
runs this very code, so the two cannot drift. Specification (docs/deploy.md repeats it):

Tokens are those of ``zoo_core.tokenize.Tokenizer``, in the same order (for each word of
``text.lower().split()``: ``<word>`` if ``word_token``, then its n-grams for n = ngram_min ..
ngram_max, left to right, without ``<word>`` itself; ``words``: the words; ``chars``: the
characters of ``text.strip()``), the first ``max_tokens`` of a text kept, ``""`` for a text
with none.

    token id    t = FNV-1a 64 of the token's UTF-8 bytes ("surrogatepass"):
                    h = 0xcbf29ce484222325; for each byte: h = (h XOR byte) * 0x100000001b3 mod 2**64
    finaliser   fmix64(x): x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33;
                           x *= 0xc4ceb93fe53e87e3; x ^= x >> 33          (MurmurHash3's, mod 2**64)
    bits        a = fmix64(t XOR fmix64(seed XOR 0x9e3779b97f4a7c15)); b = fmix64(a XOR 0x94d049bb133111eb) | 1
                bit_j = ((a + j * b) mod 2**64) mod num_bits             for j = 0 .. num_hashes-1
    bit weight  1.0 for the first occurrence of a bit in the token's list, 0.0 for a repeat
    importance  bucket = fmix64(a XOR 0x5eed1a9e5eed1a9e) mod importance_buckets

Double hashing (Kirsch & Mitzenmacher, "Less Hashing, Same Performance: Building a Better
Bloom Filter", 2006) derives the k bits from one 64-bit mix. ``token_id`` below is the same
hash written per token in plain Python: the reference the tests compare the vectorised code to.
"""
from __future__ import annotations

import contextlib
import gc

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
GOLDEN = 0x9E3779B97F4A7C15
SECOND = 0x94D049BB133111EB
IMPORTANCE = 0x5EED1A9E5EED1A9E
MASK64 = (1 << 64) - 1
EMPTY_ID = FNV_OFFSET  # the id of the empty token ""

_U = np.uint64
_PRIME, _OFFSET = _U(FNV_PRIME), _U(FNV_OFFSET)
_S33, _M1, _M2 = _U(33), _U(0xFF51AFD7ED558CCD), _U(0xC4CEB93FE53E87E3)


# ---- the reference, one token at a time --------------------------------------------------
def token_id(token: str) -> int:
    """FNV-1a 64 of the token's UTF-8 bytes (the specification, in plain Python)."""
    h = FNV_OFFSET
    for byte in token.encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def fmix64_int(x: int) -> int:
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB93FE53E87E3) & MASK64
    return x ^ (x >> 33)


def token_bits_int(token: str, num_bits: int, num_hashes: int, seed: int = 0) -> list[int]:
    """A token's bits by the specification, in plain Python."""
    a = fmix64_int(token_id(token) ^ fmix64_int(seed ^ GOLDEN))
    b = fmix64_int(a ^ SECOND) | 1
    return [((a + j * b) & MASK64) % num_bits for j in range(num_hashes)]


# ---- vectorised ----------------------------------------------------------------------------
@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: making one list per text (``str.split``) otherwise
    triggers collections that rescan every object the process holds (in a process holding a
    dataset, most of the featurisation time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def fmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _S33)
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


def _utf8(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(4, N) UTF-8 bytes of each code point (unused bytes 0) and the byte count (N,)."""
    n = 1 + (cp >= 0x80).astype(np.int8) + (cp >= 0x800) + (cp >= 0x10000)
    out = np.zeros((4, len(cp)), dtype=np.uint64)
    out[0] = cp
    if n.max(initial=1) == 1:
        return out, n
    cont = [(cp >> _U(s)) & _U(0x3F) | _U(0x80) for s in (18, 12, 6, 0)]
    for width, lead in ((2, 0xC0), (3, 0xE0), (4, 0xF0)):
        sel = n == width
        if sel.any():
            out[0, sel] = (cp[sel] >> _U(6 * (width - 1))) | _U(lead)
            for j in range(1, width):
                out[j, sel] = cont[4 - width + j][sel]
    return out, n


class _Steps:
    """FNV-1a steps over the UTF-8 bytes of one character per position."""

    def __init__(self, cp: np.ndarray):
        self.bytes, self.n = _utf8(cp)
        self.ascii = bool(self.n.max(initial=1) == 1)
        # for slices: the positions whose character has a (j+1)-th byte, and that byte (j = 1..3)
        self.more = [] if self.ascii else [(p, self.bytes[j, p]) for j in range(1, 4)
                                           for p in [np.flatnonzero(self.n > j)]]

    def step(self, h: np.ndarray, at) -> np.ndarray:
        """``h`` extended by the character at positions ``at`` (an index array or slice)."""
        h = (h ^ self.bytes[0, at]) * _PRIME
        if self.ascii:
            return h
        if isinstance(at, slice):  # the later bytes at the few positions that have them, not np.where over all
            start, stop, _ = at.indices(self.n.shape[0])
            for pos, byte in self.more:
                lo, hi = np.searchsorted(pos, (start, stop))
                local = pos[lo:hi] - start
                h[local] = (h[local] ^ byte[lo:hi]) * _PRIME
            return h
        n = self.n[at]
        for j in range(1, 4):
            more = n > j
            if more.any():
                h = np.where(more, (h ^ self.bytes[j, at]) * _PRIME, h)
        return h


def segment_ids(cp: np.ndarray, starts: np.ndarray, lengths: np.ndarray, steps: _Steps | None = None) -> np.ndarray:
    """The token id of each segment ``cp[start:start+length]``: one pass per character column,
    longest segments first, so the work is the total length."""
    steps = steps or _Steps(cp)
    order = np.argsort(-lengths, kind="stable")
    s, ln = starts[order], lengths[order]
    h = np.full(len(s), _OFFSET, dtype=np.uint64)
    active = len(s)
    for k in range(int(ln.max(initial=0))):
        while active and ln[active - 1] <= k:
            active -= 1
        h[:active] = steps.step(h[:active], s[:active] + k)
    out = np.empty_like(h)
    out[order] = h
    return out


def _ngram_tokens(words: list[str], lo: int, hi: int, word_token: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ids, tokens per word) of fastText-style n-grams of ``<word>``, in the Tokenizer's order."""
    m = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2  # marked lengths
    cp = code_points("<" + "><".join(words) + ">") if words else np.zeros(0, np.uint64)
    starts = np.cumsum(m) - m
    steps = _Steps(cp)
    counts = [(np.maximum(m - n + 1, 0) * (m != n)) for n in range(lo, hi + 1)]  # n-grams of each length
    per_word = sum(counts) + (1 if word_token else 0) if counts else np.full(len(m), int(word_token))
    base = np.cumsum(per_word) - per_word  # first token of each word in the output
    out = np.empty(int(per_word.sum()), dtype=np.uint64)
    if word_token:
        out[base] = segment_ids(cp, starts, m, steps)
        base = base + 1
    word_of = np.repeat(np.arange(len(m)), m)
    q = np.arange(len(cp)) - starts[word_of]  # position inside the marked word
    h = np.full(len(cp), _OFFSET, dtype=np.uint64)
    for n in range(1, hi + 1):
        h[: len(cp) - n + 1] = steps.step(h[: len(cp) - n + 1], slice(n - 1, len(cp)))
        if n >= lo:
            c = counts[n - lo]
            keep = np.flatnonzero(q[: len(cp) - n + 1] < c[word_of[: len(cp) - n + 1]])
            w = word_of[keep]
            out[base[w] + q[keep]] = h[keep]
            base = base + c
    return out, per_word


def token_ids(texts: list[str], unit: str = "char_ngrams", ngram_min: int = 1, ngram_max: int = 4,
              word_token: bool = True, lowercase: bool = True, max_tokens: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint64 token ids of all texts and int64 offsets (len(texts) + 1): text i's ids are
    ``ids[offsets[i]:offsets[i+1]]``, the Tokenizer's tokens in its order, hashed by ``token_id``."""
    if unit == "chars":
        texts = [t.lower().strip() if lowercase else t.strip() for t in texts]
        per_text = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        cp = code_points("".join(texts))
        ids = (_Steps(cp).step(np.full(len(cp), _OFFSET, dtype=np.uint64), slice(None)) if len(cp)
               else np.zeros(0, np.uint64))
    else:
        # All texts joined by " ", split and lower-cased in one call: no list is kept per text (100k
        # GC-tracked lists cost a full collection later), words never span texts, and lower-casing
        # is the same as text by text (the space ends a final sigma's context; whitespace is kept).
        joined = " ".join(texts)
        words = (joined.lower() if lowercase else joined).split()
        words_per_text = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
        if unit == "words":
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            ids = segment_ids(code_points("".join(words)), np.cumsum(lengths) - lengths, lengths)
            per_word = np.ones(len(words), dtype=np.int64)
        else:
            ids, per_word = _ngram_tokens(words, ngram_min, ngram_max, word_token)
        ends = np.cumsum(per_word)
        bounds = np.concatenate([[0], np.cumsum(words_per_text)])
        per_text = np.concatenate([[0], ends])[bounds[1:]] - np.concatenate([[0], ends])[bounds[:-1]]
    return _truncate(ids, per_text, max_tokens)


def _truncate(ids: np.ndarray, per_text: np.ndarray, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each text's first ``max_tokens`` ids; a text with none gets the empty token."""
    kept = np.minimum(per_text, max_tokens)
    final = np.maximum(kept, 1)
    offsets = np.zeros(len(per_text) + 1, dtype=np.int64)
    np.cumsum(final, out=offsets[1:])
    if np.array_equal(kept, per_text) and kept.all():
        return ids, offsets
    out = np.full(int(offsets[-1]), _OFFSET, dtype=np.uint64)
    src_start = np.cumsum(per_text) - per_text
    text_of = np.repeat(np.arange(len(kept)), kept)
    rank = np.arange(int(kept.sum())) - (np.cumsum(kept) - kept)[text_of]
    out[offsets[:-1][text_of] + rank] = ids[src_start[text_of] + rank]
    return out, offsets


def hash_bits(ids: np.ndarray, num_bits: int, num_hashes: int, seed: int = 0,
              importance_buckets: int | None = None):
    """(bits (N, k) int64, bit_weight (N, k) float32[, bucket (N,) int64]) of token ids."""
    a = fmix64(ids ^ fmix64(np.array([seed ^ GOLDEN], dtype=np.uint64)))
    b = fmix64(a ^ _U(SECOND)) | _U(1) if num_hashes > 1 else None  # the step between hashes: none for one
    nb, power_of_two = _U(num_bits), num_bits & (num_bits - 1) == 0
    bits = np.empty((len(ids), num_hashes), dtype=np.int64)
    weight = np.ones((len(ids), num_hashes), dtype=np.float32)
    cols, mixed = [], a
    for j in range(num_hashes):  # one contiguous column per hash function
        if j:
            mixed = mixed + b
        col = (mixed & (nb - _U(1)) if power_of_two else mixed % nb).view(np.int64)
        if cols and not (power_of_two and num_hashes <= num_bits):  # else (a + j b) mod 2^m differ: b is odd
            fresh = col != cols[0]
            for prev in cols[1:]:
                fresh &= col != prev
            weight[:, j] = fresh
        bits[:, j] = col
        cols.append(col)
    if importance_buckets is None:
        return bits, weight
    return bits, weight, (fmix64(a ^ _U(IMPORTANCE)) % _U(importance_buckets)).astype(np.int64)


def pad(values: np.ndarray, offsets: np.ndarray, fill=0) -> tuple[np.ndarray, np.ndarray]:
    """Flat per-token rows (N, ...) -> right-padded (B, T, ...) and the bool mask (B, T)."""
    lengths = np.diff(offsets)
    b, t = len(lengths), max(int(lengths.max(initial=0)), 1)
    mask = np.arange(t)[None, :] < lengths[:, None]
    out = np.full((b, t) + values.shape[1:], fill, dtype=values.dtype)
    out[mask] = values
    return out, mask


def gather_texts(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the flat arrays of texts ``idx`` (in that order) and their new offsets."""
    starts, lengths = offsets[idx], offsets[idx + 1] - offsets[idx]
    new = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new[1:])
    pos = np.arange(int(new[-1]), dtype=np.int64) - np.repeat(new[:-1] - starts, lengths)
    return pos, new


def bag_inputs(bits: np.ndarray, weight: np.ndarray, offsets: np.ndarray, num_bits: int,
               pooling: str = "mean") -> dict[str, np.ndarray]:
    """The inputs of an exported bag-form graph (docs/deploy.md) from the tokens' (bits, bit
    weights) and offsets: ``bag_bits`` (N, k) int64, a repeated bit (weight 0) pointing to row
    ``num_bits`` (the graph's zero row); ``bag_text`` (N,) int64, each token's text;
    ``bag_scale`` (B,) float32, 1/length for mean pooling (1 for sum)."""
    lengths = np.diff(offsets)
    bits = np.where(weight == 0, num_bits, bits) if not weight.all() else bits
    scale = (1.0 / np.maximum(lengths, 1)) if pooling == "mean" else np.ones(len(lengths))
    return {"bag_bits": np.ascontiguousarray(bits, dtype=np.int64),
            "bag_text": np.repeat(np.arange(len(lengths), dtype=np.int64), lengths),
            "bag_scale": scale.astype(np.float32)}


class Featurizer:
    """Texts -> the ONNX inputs of an exported ``hash``-embedder model, from its ``FILE.json``
    (``meta["tokenizer"]``, ``meta["embed"]["config"]``, ``meta["graph"]``): for a ``bag`` graph
    the flat ``bag_inputs``, else bits, bit_weight, mask, padded."""

    def __init__(self, meta: dict):
        self.tok, self.cfg = meta["tokenizer"], meta["embed"]["config"]
        self.bag = meta.get("graph") == "bag"
        self.pooling = meta.get("pooling", "mean")
        if self.cfg.get("hash", "blake2b") != "fnv1a64":
            raise ValueError("this featurizer computes hash=fnv1a64 codes; the model uses blake2b: "
                             "retrain it (new runs default to fnv1a64) or use zoo")

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        t, c = self.tok, self.cfg
        ids, offsets = token_ids(texts, t["unit"], t["ngram_min"], t["ngram_max"], t["word_token"], t["lowercase"],
                                 t["max_tokens"])
        bits, weight = hash_bits(ids, c["num_bits"], c["num_hashes"], c["seed"])
        if self.bag:
            return bag_inputs(bits, weight, offsets, c["num_bits"], self.pooling)
        bits_p, mask = pad(bits, offsets)
        return {"bits": bits_p, "bit_weight": pad(weight, offsets)[0], "mask": mask}
