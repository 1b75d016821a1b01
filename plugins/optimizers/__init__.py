"""Built-in optimizers (kind ``optim``): named parameters -> torch.optim.Optimizer.

Every one takes ``weight_decay`` and ``no_decay`` (the groups of groups.py; frozen
parameters are left out) except ``lookahead``, which passes ``lr``/``weight_decay`` to its
``inner`` optimizer: ``optim=lookahead optim.inner=smorms3``.
"""
from zoo_core import hookimpl

from . import configs

_WD = "PyTorch - Weight Decay Made Easy; Applying Weight Decay On Model Parameters"


@hookimpl
def zoo_register_components(register):
    register("optim", "adamw", factory="zoo_plugins.optimizers.groups:adamw", config=configs.AdamWConfig,
             summary="AdamW with weight-decay groups (no decay for biases, 1-D-after-squeeze, skip list; "
                     "frozen parameters left out)",
             post=_WD, paper="Loshchilov & Hutter, Decoupled Weight Decay Regularization (ICLR 2019)")
    register("optim", "smorms3", factory="zoo_plugins.optimizers.smorms3:smorms3", config=configs.SMORMS3Config,
             summary="Simon Funk's SMORMS3: RMSprop without a beta; rate min(lr, g²/g2)",
             post="Implementing The SMORMS3 Optimizer in PyTorch",
             paper="Funk, RMSprop loses to SMORMS3 - Beware the Epsilon! (sifter.org, 2015)")
    for name, cls, paper in (
            ("sgd", "SGDConfig", "Sutskever et al., On the importance of initialization and momentum (ICML 2013)"),
            ("adam", "AdamConfig", "Kingma & Ba, Adam: A Method for Stochastic Optimization (ICLR 2015)"),
            ("radam", "RAdamConfig", "Liu et al., On the Variance of the Adaptive Learning Rate and Beyond (ICLR 2020)"),
            ("rmsprop", "RMSpropConfig", "Tieleman & Hinton, Lecture 6.5 - RMSprop (2012)"),
            ("adagrad", "AdagradConfig", "Duchi, Hazan, Singer, Adaptive Subgradient Methods (JMLR 2011)")):
        register("optim", name, factory=f"zoo_plugins.optimizers.torch_optims:{name}", config=getattr(configs, cls),
                 summary=f"torch.optim.{dict(sgd='SGD', adam='Adam', radam='RAdam', rmsprop='RMSprop', adagrad='Adagrad')[name]}"
                         f" with the weight-decay groups",
                 post=_WD + ("; Deep learning papers/notes 01" if name == "radam" else ""), paper=paper)
    register("optim", "sparse_dense", factory="zoo_plugins.optimizers.sparse_dense:sparse_dense",
             config=configs.SparseDenseConfig,
             summary="one optimizer: SparseAdam for sparse-gradient parameters (embed.sparse=true), "
                     "Adam for the rest",
             post="PyTorch - Combining Dense And Sparse Gradients",
             paper="Kingma & Ba, Adam (ICLR 2015); torch.optim.SparseAdam")
    register("optim", "lookahead", factory="zoo_plugins.optimizers.lookahead:lookahead",
             config=configs.LookaheadConfig,
             summary="Lookahead around any optimizer (optim.inner=radam|smorms3|...): k fast steps, one slow step",
             post="Deep learning papers/notes 01",
             paper="Zhang, Lucas, Hinton, Ba, Lookahead Optimizer: k steps forward, 1 step back (NeurIPS 2019)")
