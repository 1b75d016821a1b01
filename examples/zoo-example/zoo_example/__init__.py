"""zoo-example: a third-party zoo plugin, written the way a plugin author would.

This module is what the ``zoo`` entry point names, so zoo imports it during discovery
(``zoo list``, ``zoo build``, ...). It imports only the torch-free configs; the factory
strings name the modules holding the torch code, imported when a component is built.
Each component's citation is the ``Post:``/``Paper:`` lines of its module's docstring, which
zoo reads from the source without importing it.
"""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("mixer", "token_shift", factory="zoo_example.token_shift:TokenShiftMixer",
             config=configs.TokenShiftConfig,
             summary="RWKV channel mixing: each token interpolated with its left neighbour (token shift), "
                     "then a squared-ReLU MLP gated by a sigmoid receptance; linear, causal")
    register("pool", "power_mean", factory="zoo_example.power_mean:PowerMeanPooler",
             config=configs.PowerMeanConfig,
             summary="concatenated power means over the real tokens (p=1 mean, max, min, odd p); "
                     "out_dim = dim * len(powers); no parameters")
