"""Configs of the built-in output heads (torch-free: ``zoo info`` imports this module, never torch).

A head's width is not a field: the model passes the pooler's ``out_dim`` (``in_dim``) and
the number of classes when it builds the head. Heads that learn by their own rule (not by
backpropagation) have ``probe``: with ``probe=true`` (the default) the features still train,
by backpropagation of the run's loss through a linear layer beside the head (the head's
own scores are what is evaluated and predicted); with ``probe=false`` the features stay as
built (a frozen or pretrained embedder, ``embed=hf:...``), and a model with nothing else to
train is gradient-free (``recipe=hdc``).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ComponentConfig

PROBE = Field(True, description="train the features by backprop through a linear probe beside this head (the "
                                "loss scores the probe); false: the features stay as built (frozen/pretrained)")


class LinearHeadConfig(ComponentConfig):
    bias: bool = Field(True, description="add a learned bias per class")


class CentroidConfig(ComponentConfig):
    similarity: Literal["cosine", "hamming", "dot"] = Field(
        "cosine", description="cosine; hamming (vectors thresholded to bipolar, share of agreeing signs); dot")
    retrain_epochs: int = Field(3, ge=0, description="passes of retraining on the misclassified examples after "
                                                     "bundling (0: the bundled class hypervectors only)")
    lr: float = Field(1.0, gt=0, description="retraining step: a misclassified x is added to its class's "
                                             "hypervector and subtracted from the predicted one, times lr")
    batch_size: int = Field(256, gt=0, description="examples compared at once while retraining")
    probe: bool = PROBE


class KernelKNNConfig(ComponentConfig):
    kernel: Literal["cosine", "rbf"] = Field("cosine", description="cosine: K = exp(cos(x, x_i) / temperature); "
                                                                   "rbf: K = exp(-gamma |x - x_i|^2)")
    k: int = Field(20, ge=0, description="neighbours that vote (0: every stored example, the full kernel machine)")
    temperature: float = Field(0.07, gt=0, description="cosine kernel's temperature (DINO's weighted kNN: 0.07)")
    gamma: float | None = Field(None, gt=0, description="rbf kernel's gamma (default: 1 / (in_dim * variance of "
                                                        "the stored vectors), sklearn's 'scale')")
    memory: int = Field(16384, gt=0, description="training vectors stored (a seeded random subset beyond this)")
    probe: bool = PROBE


class GatedLinearConfig(ComponentConfig):
    layers: list[int] = Field([16, 8], description="neurons per hidden layer (one output neuron per class follows)")
    context_bits: int = Field(4, ge=1, le=12, description="half-space context functions per neuron: 2^bits "
                                                           "weight vectors to choose from")
    lr: float = Field(0.01, gt=0, description="online gradient-descent step of each neuron's local log loss")
    weight_clip: float = Field(200.0, gt=0, description="weights are projected onto [-clip, clip] after each step")
    eps: float = Field(0.01, gt=0, lt=0.5, description="probabilities are clipped to [eps, 1-eps] before logit")
    input_scale: float = Field(1.0, gt=0, description="the base layer's probabilities are σ(input_scale · z): pooled "
                                                      "values near 0 give inputs near 1/2, which the mixing weights "
                                                      "need many steps to sharpen (language ID: 2, with context_bits=8, "
                                                      "docs/heads.md)")
    seed: int = Field(0, ge=0, description="seed of the half-space context functions (fixed, never trained)")
    probe: bool = PROBE

    @model_validator(mode="after")
    def _layers_positive(self):
        if any(n < 1 for n in self.layers):
            raise ValueError(f"layers={self.layers}: every layer needs at least one neuron, e.g. layers=[16,8]")
        return self
