"""Built-in embedders (kind ``embed``): token strings -> (B, T, dim) + padding mask."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("embed", "hash", factory="zoo_plugins.embedders.hash:HashEmbedder", config=configs.HashConfig,
             summary="Bloom-style hashed embedding: any token -> num_bits-bit code -> sum of rows; "
                     "parameters independent of the vocabulary")
    register("embed", "subword_hash", factory="zoo_plugins.embedders.subword:SubwordHashEmbedder",
             config=configs.SubwordHashConfig,
             summary="fastText-style word vectors: mean of the hashed rows of a word and its char n-grams; "
                     "one vector per word")
    register("embed", "char_cnn", factory="zoo_plugins.embedders.char_cnn:CharCNNEmbedder",
             config=configs.CharCNNConfig,
             summary="character CNN: char embeddings -> filters of several widths -> max over time -> "
                     "highway; a vector for any word, no word vocabulary")
    register("embed", "char_pos", factory="zoo_plugins.embedders.char_pos:CharPosEmbedder",
             config=configs.CharPosConfig,
             summary="sum over a word's characters of char embedding * sinusoidal position code; "
                     "spelling variants land close together")
    register("embed", "full", factory="zoo_plugins.embedders.full:FullEmbedder", config=configs.FullConfig,
             summary="vocabulary embedding built by fit() (min_count, max_size, <unk> policy), "
                     "optionally with sparse gradients")
    register("embed", "bert", factory="zoo_plugins.embedders.bert:BertEmbedder", config=configs.BertConfig,
             summary="pretrained BERT-family encoder from outside zoo (config.json + model.safetensors + "
                     "tokenizer.json, e.g. all-MiniLM-L6-v2): WordPiece -> frozen Transformer -> states per word "
                     "(or per word-piece) -> projection to dim")
    register("embed", "hyperdimensional",
             factory="zoo_plugins.embedders.hyperdimensional:HyperdimensionalEmbedder",
             config=configs.HyperdimensionalConfig,
             summary="hyperdimensional computing: random bipolar character hypervectors, rotated by position in "
                     "an n-gram, bound by multiplication, bundled over the token's n-grams (D=10,000); frozen, "
                     "random or learned projection to dim")
