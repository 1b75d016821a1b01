"""Built-in losses (kind ``loss``)."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("loss", "cross_entropy", factory="zoo_plugins.losses.cross_entropy:CrossEntropyLoss",
             config=configs.CrossEntropyConfig,
             summary="categorical cross-entropy over class logits (optionally label-smoothed)",
             post="LambdaNetworks: A Quick Glimpse; [MASK] is All You Need",
             paper="Szegedy et al., Rethinking the Inception Architecture (label smoothing, CVPR 2016)")
