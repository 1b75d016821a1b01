"""Built-in poolers (kind ``pool``): (B, T, dim) + mask -> (B, out_dim) and optional weights.
Each method module's docstring cites its post and paper (``Post:``/``Paper:`` lines)."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("pool", "mean", factory="zoo_plugins.poolers.mean:MeanPooler", config=configs.MeanConfig,
             summary="masked average over the real tokens (the ProtoNet prototype)")
    register("pool", "seed_attention", factory="zoo_plugins.poolers.seed_attention:SeedAttentionPooler",
             config=configs.SeedAttentionConfig,
             summary="a learned seed query attends over the tokens with scaled cosine scores; returns the "
                     "weights so each decision can be traced to tokens")
    register("pool", "max", factory="zoo_plugins.poolers.max:MaxPooler", config=configs.MaxConfig,
             summary="masked max over time; weights = share of dimensions each token supplied")
    register("pool", "last", factory="zoo_plugins.poolers.last:LastPooler", config=configs.LastConfig,
             summary="the state of the last real token (found from the mask, any padding)")
    register("pool", "latent_attention", factory="zoo_plugins.poolers.latent_attention:LatentAttentionPooler",
             config=configs.LatentAttentionConfig,
             summary="Perceiver-style: L learned latents cross-attend over the tokens; flattened (L*dim) or "
                     "averaged; permutation invariant without positions")
    register("pool", "prototype_attention",
             factory="zoo_plugins.poolers.prototype_attention:PrototypeAttentionPooler",
             config=configs.PrototypeAttentionConfig,
             summary="query-conditioned centre softmax(scale*cos(W_q q, W_k S)) @ S; the plain mean when "
                     "scores are equal; centres() for few-shot support sets")
