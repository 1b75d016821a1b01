"""Built-in output heads (kind ``head``): pooled (B, in_dim) -> class scores (B, num_classes).

Torch-free: only the configs are imported here; each factory string names the module that
holds the torch code, imported when the head is built. Each module's docstring cites its
post and paper (``Post:``/``Paper:`` lines, read by zoo info without importing it).
"""
from zoo_core import hookimpl

from . import configs

_HEADS = [
    ("linear", "linear:LinearHead", configs.LinearHeadConfig,
     "one linear layer, logits = W x + b, trained by backpropagation (the default)"),
    ("centroid", "centroid:CentroidHead", configs.CentroidConfig,
     "hyperdimensional class hypervectors: bundled training vectors, retrained on the misclassified; "
     "the most similar class wins (no backprop)"),
    ("kernel_knn", "kernel_knn:KernelKNNHead", configs.KernelKNNConfig,
     "kernel machine over stored training vectors: y = sum_i onehot(y_i) K(x, x_i), cosine or RBF kernel, "
     "k nearest (no backprop)"),
    ("gated_linear", "gated_linear:GatedLinearHead", configs.GatedLinearConfig,
     "gated linear network: layers of geometric-mixing neurons whose weights half-space contexts of the "
     "pooled vector select, each trained online by its own log loss; one-vs-all (no backprop)"),
]


@hookimpl
def zoo_register_components(register):
    for name, target, config, summary in _HEADS:
        register("head", name, factory=f"zoo_plugins.heads.{target}", config=config, summary=summary)
