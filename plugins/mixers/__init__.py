"""Built-in mixers (kind ``mixer``): (B, T, dim) + mask -> (B, T, dim)."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("mixer", "identity", factory="zoo_plugins.mixers.identity:IdentityMixer", config=configs.IdentityConfig,
             summary="no token mixing (a baseline): returns its input",
             post="N Layers is All We Need?", paper="-")
    register("mixer", "lambda", factory="zoo_plugins.mixers.lambda_layer:LambdaMixer", config=configs.LambdaConfig,
             summary="lambda layer: the context summarised into a (k x v) linear map applied to each query; "
                     "linear in sequence length",
             post="LambdaNetworks: A Quick Glimpse; Token Interactions: Mixing, Lambda and Attention",
             paper="Bello, LambdaNetworks: Modeling Long-Range Interactions Without Attention (arXiv:2102.08602)")
