"""Stable, torch-free hash codes shared by the embedders: the same in every process, on
every machine and Python version. Python's ``hash()`` is salted per process
(PYTHONHASHSEED) and is never used for anything a saved model depends on.

- ``token_bits``: a token's Bloom-style bit positions (the ``hash`` embedder, and the
  hashed out-of-vocabulary rows of ``full``);
- ``char_row``: a character's row in a character table (``char_cnn``, ``char_pos``);
- ``clip``: how a token longer than ``max_chars`` is shortened.
"""
from __future__ import annotations

import functools
import hashlib

PAD, BOW, EOW = 0, 1, 2  # character-table rows: padding, beginning and end of a word
FIRST_CHAR_ROW = 3


def token_bits(token: str, num_bits: int, num_hashes: int, seed: int = 0) -> tuple[int, ...]:
    """The ``num_hashes`` bit positions of ``token`` (stable across processes and machines).

    Each hash function is one 32-bit word of a keyed blake2b digest of the UTF-8 bytes; one
    digest holds 16 words, so more hash functions read further digests whose personalisation
    carries the block number."""
    data = token.encode("utf-8", "surrogatepass")
    salt = seed.to_bytes(8, "little")
    out: list[int] = []
    block = 0
    while len(out) < num_hashes:
        words = min(16, num_hashes - len(out))
        person = b"zoo-hash" if block == 0 else b"zoo-hash" + block.to_bytes(8, "little")
        digest = hashlib.blake2b(data, digest_size=4 * words, salt=salt, person=person).digest()
        out.extend(int.from_bytes(digest[4 * i: 4 * i + 4], "little") % num_bits for i in range(words))
        block += 1
    return tuple(out)


def num_char_rows(char_table: int, char_buckets: int) -> int:
    """Rows of a character table: padding, two word markers, direct code points, hashed buckets."""
    return FIRST_CHAR_ROW + char_table + char_buckets


@functools.lru_cache(maxsize=65536)
def char_row(ch: str, char_table: int, char_buckets: int) -> int:
    """Code points below ``char_table`` get their own row; all others share ``char_buckets``
    rows by a keyed blake2b hash of their UTF-8 bytes."""
    cp = ord(ch)
    if cp < char_table:
        return FIRST_CHAR_ROW + cp
    digest = hashlib.blake2b(ch.encode("utf-8", "surrogatepass"), digest_size=8, person=b"zoo-char").digest()
    return FIRST_CHAR_ROW + char_table + int.from_bytes(digest, "little") % char_buckets


def clip(token: str, max_chars: int) -> str:
    """``token`` if it is at most ``max_chars`` long, else its first and last ``max_chars // 2``
    characters (prefixes and suffixes carry most of a word's form)."""
    if len(token) <= max_chars:
        return token
    head = max_chars // 2
    return token[:head] + token[len(token) - (max_chars - head):]
