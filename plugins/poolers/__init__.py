"""Built-in poolers (kind ``pool``): (B, T, dim) + mask -> (B, out_dim) and optional weights."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("pool", "mean", factory="zoo_plugins.poolers.mean:MeanPooler", config=configs.MeanConfig,
             summary="masked average over the real tokens (the ProtoNet prototype)",
             post="Contextual Prototype Memory",
             paper="Snell et al., Prototypical Networks for Few-shot Learning (NeurIPS 2017)")
    register("pool", "seed_attention", factory="zoo_plugins.poolers.seed_attention:SeedAttentionPooler",
             config=configs.SeedAttentionConfig,
             summary="a learned seed query attends over the tokens with scaled cosine scores; returns the "
                     "weights so each decision can be traced to tokens",
             post="The Fall of Attention?; Tales From The Attention World; LambdaNetworks: A Quick Glimpse",
             paper="Lee et al., Set Transformer (PMA pooling by a seed, ICML 2019); "
                   "Vaswani et al., Attention Is All You Need (NeurIPS 2017)")
