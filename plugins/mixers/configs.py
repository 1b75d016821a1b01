"""Configs of the built-in mixers (torch-free: ``zoo info`` imports this module, never torch).

Every config has ``dim`` and ``freeze`` (from ``ModuleConfig``) and rejects unknown keys.
Validators say what to change, not only what is wrong. Checks a mixer's constructor repeats
(so ``CausalConvMixer(dim=64, groups=5)`` fails as the config would) are the functions
``check_*`` here, or the shared ones in ``zoo_core.config``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ComponentSpec, HeadsConfig, ModuleConfig, component_field, heads_divide_dim


def check_conv(dim: int, kernel_size: int, dilation: int, groups: int, causal: bool,
               what: str = "convolution") -> None:
    """A grouped convolution's groups divide dim; a centred one needs an even receptive span."""
    heads_divide_dim(dim, groups, "groups")
    span = dilation * (kernel_size - 1)
    if not causal and span % 2 and dilation == 1:
        raise ValueError(f"a centred (causal=false) {what} needs an odd kernel_size, got {kernel_size}; "
                         f"use an odd kernel_size such as {kernel_size + 1}")
    if not causal and span % 2:
        raise ValueError(f"a centred (causal=false) {what} needs an even receptive span "
                         f"dilation*(kernel_size-1), got {span}; use an odd kernel_size such as {kernel_size + 1}")


def check_recurrent(dim: int, causal: bool, bidirectional: bool, reverse: bool) -> None:
    if causal and (bidirectional or reverse):
        which = "bidirectional" if bidirectional else "reverse"
        raise ValueError(f"{which}=true reads tokens after t, which a causal mixer must not; "
                         f"set causal=false or {which}=false")
    if bidirectional and reverse:
        raise ValueError("bidirectional=true already reads right to left; set reverse=false")
    if bidirectional and dim % 2:
        raise ValueError(f"bidirectional=true splits dim={dim} between two directions; use an even dim")


class IdentityConfig(ModuleConfig):
    pass


class SelfAttentionConfig(HeadsConfig):
    heads: int = Field(4, gt=0, description="attention heads; each gets dim / heads channels")
    causal: bool = Field(False, description="position t attends only to positions <= t")
    drop_head: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "DropHead: probability of zeroing a whole head's output in training (2D dropout over the "
        "heads axis); identity in eval. Can be changed during training for a schedule"))
    bias: bool = Field(True, description="biases in the q/k/v and output projections")


class LinearAttentionConfig(HeadsConfig):
    heads: int = Field(4, gt=0, description="attention heads; each gets dim / heads channels")
    causal: bool = Field(False, description="position t attends only to positions <= t (prefix sums)")


class LambdaConfig(HeadsConfig):
    heads: int = Field(4, gt=0, description="query heads |h|; the value depth |v| is dim / heads")
    dim_k: int = Field(16, gt=0, description="query/key depth |k|")
    normalize: Literal["softmax", "kernel"] = Field(
        "softmax", description="normalisation of the keys over the context: softmax (paper) or elu+1 kernel (post)")
    position_lambda: bool = Field(False, description="add position lambdas from relative position embeddings")
    window: int = Field(7, ge=0, description="position lambdas see tokens up to this many positions away")
    causal: bool = Field(False, description="position t sees only positions <= t")


class HyperMixerConfig(ModuleConfig):
    hidden: int | None = Field(None, gt=0, description="token-mixing width d' (rows of the generated W1, W2); "
                                                       "default: dim")
    tied: bool = Field(False, description="one hypernetwork generates both W1 and W2 (W1 = W2)")
    positions: bool = Field(True, description="add sinusoidal positions to the hypernetworks' input (paper), so "
                                              "the generated weights know where each token is")


class GMLPConfig(ModuleConfig):
    max_len: int = Field(512, gt=0, description="longest sequence: the spatial gating matrix is max_len x max_len")
    hidden: int | None = Field(None, gt=0, description="d_ffn, the width of the up-projection (split in two "
                                                       "halves by the gating unit); default: 2 * dim")

    @model_validator(mode="after")
    def _valid(self):
        if self.hidden is not None and self.hidden % 2:
            raise ValueError(f"hidden={self.hidden} must be even (the spatial gating unit splits it in two); "
                             f"use hidden={self.hidden + 1}")
        return self


class MLPMixerConfig(ModuleConfig):
    max_len: int = Field(512, gt=0, description="longest sequence: the token-mixing MLP has max_len inputs")
    hidden: int = Field(256, gt=0, description="token-mixing MLP width D_S")


class FNetConfig(ModuleConfig):
    pass


class FastformerConfig(HeadsConfig):
    heads: int = Field(4, gt=0, description="attention heads; each gets dim / heads channels")


class PerformerConfig(HeadsConfig):
    heads: int = Field(4, gt=0, description="attention heads; each gets dim / heads channels")
    features: int | None = Field(None, gt=0, description=(
        "random features m per head; more approximate softmax attention better; "
        "default: round(d_head * ln d_head), the paper's Θ(d log d)"))
    causal: bool = Field(False, description="position t attends only to positions <= t (prefix sums)")
    redraw_interval: int = Field(0, ge=0, description=(
        "draw fresh random features every this many training forward passes; 0 keeps them fixed "
        "(they are saved with the weights either way)"))


class CausalConvConfig(ModuleConfig):
    kernel_size: int = Field(3, gt=0, description="convolution width")
    dilation: int = Field(1, gt=0, description="gap between taps; the receptive field is dilation*(kernel_size-1)+1")
    groups: int = Field(1, gt=0, description="channel groups (groups=dim: depthwise)")
    causal: bool = Field(True, description="pad left by dilation*(kernel_size-1) so position t never sees t+1; "
                                           "false: centred ('same') padding")

    @model_validator(mode="after")
    def _valid(self):
        check_conv(self.dim, self.kernel_size, self.dilation, self.groups, self.causal)
        return self


class QRNNConfig(ModuleConfig):
    kernel_size: int = Field(2, gt=0, description="width of the masked convolution computing the gates "
                                                  "(paper: 2 for language modelling)")
    causal: bool = Field(True, description="masked (left-padded) gate convolution; false: centred, so each gate "
                                           "also sees (kernel_size-1)/2 future tokens")
    zoneout: float = Field(0.0, ge=0.0, lt=1.0, description="zoneout: probability of keeping the previous cell "
                                                            "value per channel in training (f forced to 1)")

    @model_validator(mode="after")
    def _valid(self):
        check_conv(self.dim, self.kernel_size, 1, 1, self.causal, what="gate convolution")
        return self


class RecurrentConfig(ModuleConfig):
    layers: int = Field(1, gt=0, description="stacked recurrent layers")
    causal: bool = Field(True, description="read left to right only, so state t depends on tokens <= t")
    bidirectional: bool = Field(False, description="also read right to left; each direction gets dim/2 units")
    reverse: bool = Field(False, description="read right to left only (the post's trick for suffix-heavy tasks)")

    @model_validator(mode="after")
    def _valid(self):
        check_recurrent(self.dim, self.causal, self.bidirectional, self.reverse)
        return self


class GRUConfig(RecurrentConfig):
    pass


class LSTMConfig(RecurrentConfig):
    pass


class VQConfig(ModuleConfig):
    codes: int = Field(64, ge=2, description="codebook size")
    beta: float = Field(0.02, ge=0, description="commitment loss weight (Jukebox: 0.02)")
    decay: float = Field(0.99, gt=0, lt=1, description="EMA decay of the codebook statistics (Jukebox mu)")
    threshold: float = Field(1.0, ge=0, description="a code whose EMA usage count falls below this is dead and "
                                                   "restarted at a random token state of the batch")
    restart: bool = Field(True, description="random restarts of dead codes (Jukebox section 3.1)")


class SwitchConfig(ModuleConfig):
    experts: int = Field(4, ge=1, description="feed-forward experts E; each token is routed to one of them")
    hidden: int | None = Field(None, gt=0, description="hidden width d_ff of every expert's feed-forward layer; "
                                                       "default: 2 * dim")
    capacity_factor: float = Field(1.25, gt=0, description="training: each expert takes at most "
                                   "int(capacity_factor * real tokens / experts) tokens of a batch (at least 1); the rest are "
                                   "dropped (output 0, so the residual passes them through)")
    eval_capacity_factor: float | None = Field(None, gt=0, description="the same in eval; null: no limit, so a "
                                               "prediction never depends on the other sequences of its batch")
    aux_weight: float = Field(0.01, ge=0, description="alpha of the load-balancing loss alpha * E * sum_i f_i P_i "
                                                      "(paper: 1e-2)")
    init_scale: float = Field(0.1, gt=0, description="weights ~ truncated normal with std sqrt(init_scale / fan_in) "
                                                     "(paper: 0.1, a tenth of the usual scale 1.0)")


class FastWeightsConfig(ModuleConfig):
    decay: float = Field(0.95, gt=0, lt=1, description="lambda: fast weights decay A(t) = lambda A(t-1) + eta h hᵀ "
                                                       "(paper: 0.95)")
    rate: float = Field(0.5, gt=0, description="eta: fast learning rate of the Hebbian update (paper: 0.5)")
    inner_steps: int = Field(1, ge=1, le=16, description="S: inner-loop steps that let the new state settle "
                                                         "(paper: 1)")
    activation: Literal["relu", "tanh"] = Field("relu", description="nonlinearity f of the recurrence")


class FeedbackConfig(HeadsConfig):
    layers: int = Field(2, ge=1, le=8, description="attention layers L; every layer reads the same memories")
    heads: int = Field(4, gt=0, description="attention heads; each gets dim / heads channels")
    hidden: int | None = Field(None, gt=0, description="feed-forward width of every layer; default: 2 * dim")


class PonderConfig(ModuleConfig):
    inner: ComponentSpec = component_field("mixer", "self_attention", description=(
        "the step function s: any mixer but ponder, applied up to max_steps times (h <- norm(h + s(h))); "
        "its own fields: mixer.inner.FIELD=..."))
    max_steps: int = Field(6, ge=1, le=64, description="N: the most steps; the N-th step always halts")
    lambda_p: float = Field(0.3, gt=0, lt=1, description="the prior's halting probability per step: "
                                                          "Geometric(lambda_p), expected 1/lambda_p steps")
    beta: float = Field(0.01, ge=0, description="weight of KL(p || Geometric(lambda_p)) in the loss")
    halt: Literal["sample", "threshold"] = Field(
        "threshold", description="at inference: halt at the first step whose cumulative halting probability "
                                 "reaches threshold (a text's prediction never depends on its batch), or at step n "
                                 "with probability lambda_n (sample: seeded draws in batch order)")
    threshold: float = Field(0.5, gt=0, le=1, description="cumulative halting probability for halt=threshold")

    @model_validator(mode="after")
    def _not_itself(self):
        if self.inner is not None and self.inner.name == "ponder":
            raise ValueError("mixer.inner=ponder: the step function cannot be ponder itself; choose e.g. "
                             "mixer.inner=self_attention")
        return self
