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
    register("pool", "max", factory="zoo_plugins.poolers.max:MaxPooler", config=configs.MaxConfig,
             summary="masked max over time; weights = share of dimensions each token supplied",
             post="Character-Based Neural Language Models (max over time)",
             paper="Collobert et al., Natural Language Processing (Almost) from Scratch (JMLR 2011)")
    register("pool", "last", factory="zoo_plugins.poolers.last:LastPooler", config=configs.LastConfig,
             summary="the state of the last real token (found from the mask, any padding)",
             post="Who's Afraid of the Recurrent Wolf?",
             paper="Sutskever et al., Sequence to Sequence Learning with Neural Networks (NeurIPS 2014)")
    register("pool", "latent_attention", factory="zoo_plugins.poolers.latent_attention:LatentAttentionPooler",
             config=configs.LatentAttentionConfig,
             summary="Perceiver-style: L learned latents cross-attend over the tokens; flattened (L*dim) or "
                     "averaged; permutation invariant without positions",
             post="Contextual Prototype Memory; Deep learning notes 04: Perceivers",
             paper="Jaegle et al., Perceiver: General Perception with Iterative Attention (ICML 2021, "
                   "arXiv:2103.03206)")
    register("pool", "prototype_attention",
             factory="zoo_plugins.poolers.prototype_attention:PrototypeAttentionPooler",
             config=configs.PrototypeAttentionConfig,
             summary="query-conditioned centre softmax(scale*cos(W_q q, W_k S)) @ S; the plain mean when "
                     "scores are equal; centres() for few-shot support sets",
             post="Tales From The Attention World; Contextual Prototype Memory",
             paper="Snell et al., Prototypical Networks for Few-shot Learning (NeurIPS 2017)")
