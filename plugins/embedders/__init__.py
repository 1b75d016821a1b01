"""Built-in embedders (kind ``embed``): token strings -> (B, T, dim) + padding mask."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("embed", "hash", factory="zoo_plugins.embedders.hash:HashEmbedder", config=configs.HashConfig,
             summary="Bloom-style hashed embedding: any token -> num_bits-bit code -> sum of rows; "
                     "parameters independent of the vocabulary",
             post="Word Embeddings: Why Hashing Helps; LambdaNetworks: A Quick Glimpse",
             paper="Svenstrup et al., Hash Embeddings for Efficient Word Representations (NeurIPS 2017)")
    register("embed", "char_cnn", factory="zoo_plugins.embedders.char_cnn:CharCNNEmbedder.from_config",
             config=configs.CharCNNConfig,
             summary="character CNN: char embeddings -> filters of several widths -> max over time -> "
                     "highway; a vector for any word, no word vocabulary",
             post="Character-Based Neural Language Models",
             paper="Kim et al., Character-Aware Neural Language Models (AAAI 2016, arXiv:1508.06615)")
    register("embed", "char_pos", factory="zoo_plugins.embedders.char_pos:CharPosEmbedder",
             config=configs.CharPosConfig,
             summary="sum over a word's characters of char embedding * sinusoidal position code; "
                     "spelling variants land close together",
             post="Character-Level Positional Encoding",
             paper="Vaswani et al., Attention Is All You Need (NeurIPS 2017), sinusoidal positions")
    register("embed", "full", factory="zoo_plugins.embedders.full:FullEmbedder", config=configs.FullConfig,
             summary="vocabulary embedding built by fit() (min_count, max_size, <unk> policy), "
                     "optionally with sparse gradients",
             post="PyTorch – Combining Dense And Sparse Gradients; Word Embeddings: Why Hashing Helps",
             paper="Bengio et al., A Neural Probabilistic Language Model (JMLR 2003)")
    register("embed", "bert", factory="zoo_plugins.embedders.bert:BertEmbedder", config=configs.BertConfig,
             summary="pretrained BERT-family encoder from outside zoo (config.json + model.safetensors + "
                     "tokenizer.json, e.g. all-MiniLM-L6-v2): WordPiece -> frozen Transformer -> states per word "
                     "(or per word-piece) -> projection to dim",
             post="[MASK] is All You Need; Tales From The Attention World",
             paper="Devlin et al., BERT (NAACL 2019, arXiv:1810.04805); Wang et al., MiniLM "
                   "(NeurIPS 2020, arXiv:2002.10957)")
    register("embed", "hyperdimensional",
             factory="zoo_plugins.embedders.hyperdimensional:HyperdimensionalEmbedder.from_config",
             config=configs.HyperdimensionalConfig,
             summary="hyperdimensional computing: random bipolar character hypervectors, rotated by position in "
                     "an n-gram, bound by multiplication, bundled over the token's n-grams (D=10,000); frozen, "
                     "random or learned projection to dim",
             post="Hyperdimensional computing: wide embedding meets Hopfield",
             paper="Kleyko et al., Symbolic Representation and Learning With Hyperdimensional Computing "
                   "(arXiv:2004.11204); Rahimi et al., ISLPED 2016 (n-gram text encoding)")
