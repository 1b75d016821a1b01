"""Built-in optimizers (kind ``optim``): named parameters -> torch.optim.Optimizer.

Every one takes ``weight_decay`` and ``no_decay`` (the groups of groups.py; frozen
parameters are left out) except ``lookahead``, which passes ``lr``/``weight_decay`` to its
``inner`` optimizer: ``optim=lookahead optim.inner=smorms3``. Each maker's module (or the
maker's own) docstring cites its post and paper (``Post:``/``Paper:`` lines).
"""
from zoo_core import hookimpl

from . import configs

_TORCH = dict(sgd="SGD", adam="Adam", radam="RAdam", rmsprop="RMSprop", adagrad="Adagrad")


@hookimpl
def zoo_register_components(register):
    register("optim", "adamw", factory="zoo_plugins.optimizers.groups:adamw", config=configs.AdamWConfig,
             summary="AdamW with weight-decay groups (no decay for biases, 1-D-after-squeeze, skip list; "
                     "frozen parameters left out)")
    register("optim", "smorms3", factory="zoo_plugins.optimizers.smorms3:smorms3", config=configs.SMORMS3Config,
             summary="Simon Funk's SMORMS3: RMSprop without a beta; rate min(lr, g²/g2)")
    for name, torch_name in _TORCH.items():
        register("optim", name, factory=f"zoo_plugins.optimizers.torch_optims:{name}",
                 config=getattr(configs, f"{torch_name}Config"),
                 summary=f"torch.optim.{torch_name} with the weight-decay groups")
    register("optim", "sparse_dense", factory="zoo_plugins.optimizers.sparse_dense:sparse_dense",
             config=configs.SparseDenseConfig,
             summary="one optimizer: SparseAdam (or sparse_rule=rowwise_adagrad: row-wise AdaGrad) for "
                     "sparse-gradient parameters (embed.sparse=true), Adam for the rest")
    register("optim", "sparse_sgd", factory="zoo_plugins.optimizers.rowwise:sparse_sgd",
             config=configs.SparseSGDConfig,
             summary="SGD for sparse-gradient parameters (row-wise on the rows a batch used) and dense ones")
    # cited here until its module (being changed elsewhere) carries the citation
    register("optim", "lookahead", factory="zoo_plugins.optimizers.lookahead:lookahead",
             config=configs.LookaheadConfig,
             summary="Lookahead around any optimizer (optim.inner=radam|smorms3|...): k fast steps, one slow step",
             post="Deep learning papers/notes 01",
             paper="Zhang, Lucas, Hinton, Ba, Lookahead Optimizer: k steps forward, 1 step back (NeurIPS 2019)")
