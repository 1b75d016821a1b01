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
