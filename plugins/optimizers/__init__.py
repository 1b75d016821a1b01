"""Built-in optimizers (kind ``optim``): named parameters -> torch.optim.Optimizer."""
from zoo_core import hookimpl

from . import configs


@hookimpl
def zoo_register_components(register):
    register("optim", "adamw", factory="zoo_plugins.optimizers.groups:adamw", config=configs.AdamWConfig,
             summary="AdamW with weight-decay groups (no decay for biases, 1-D-after-squeeze, skip list; "
                     "frozen parameters left out)",
             post="PyTorch - Weight Decay Made Easy; Applying Weight Decay On Model Parameters",
             paper="Loshchilov & Hutter, Decoupled Weight Decay Regularization (ICLR 2019)")
    register("optim", "smorms3", factory="zoo_plugins.optimizers.smorms3:smorms3", config=configs.SMORMS3Config,
             summary="Simon Funk's SMORMS3: RMSprop without a beta; rate min(lr, g²/g2)",
             post="Implementing The SMORMS3 Optimizer in PyTorch",
             paper="Funk, RMSprop loses to SMORMS3 - Beware the Epsilon! (sifter.org, 2015)")
