"""Configs of the built-in losses (torch-free)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ComponentSpec, component_field, ComponentConfig, ModuleConfig


class CrossEntropyConfig(ComponentConfig):
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="share of probability mass spread over all classes")


class DistillConfig(ComponentConfig):
    temperature: float = Field(2.0, gt=0, description="T that softens both the teacher's and the student's "
                                                      "distributions (Hinton et al.: raised, e.g. 2-20)")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the soft-target term; 1 - alpha weighs the "
                                                      "hard-label cross-entropy")
    teacher: str | None = Field(None, description="a saved zoo model (a run folder or hf:ORG/NAME) trained on the "
                                                  "same classes: the classification task scores every training "
                                                  "text with it once and gives its probabilities to the loss")


class SoftNearestNeighborConfig(ComponentConfig):
    temperature: float = Field(1.0, gt=0, description="T of the kernel exp(-|x_i - x_j|² / T)")
    normalize: bool = Field(False, description="L2-normalise the pooled vectors first (distances then in [0, 4])")


class ApproxNDCGConfig(ComponentConfig):
    temperature: float = Field(0.05, gt=0, description="sigmoid temperature of the approximate rank (the post's "
                                                       "scale 1/0.05); smaller is closer to the exact NDCG")
    gain: Literal["exponential", "linear"] = Field(
        "exponential", description="gain of a relevance grade: 2^rel - 1 (Qin et al., allRank) or rel (the post, "
                                   "trec_eval's ndcg); the same for binary relevance")


class SmoothAPConfig(ComponentConfig):
    temperature: float = Field(0.01, gt=0, description="sigmoid temperature of the ranking function (paper: 0.01)")


class TripletCosineConfig(ComponentConfig):
    margin: float = Field(0.3, ge=0, le=2, description="cos(anchor, positive) must beat cos(anchor, negative) by this")
    mining: Literal["all", "hardest"] = Field("all", description="all: mean over every in-batch triplet with a "
                                                                 "non-zero loss; hardest: per anchor, farthest "
                                                                 "positive vs closest negative")


class PrototypicalConfig(ComponentConfig):
    shots: int = Field(0, ge=0, description="support examples per class at the front of each class's examples "
                                            "in the batch (0: the first half, rounded up)")
    distance: Literal["sqeuclidean", "cosine"] = Field("sqeuclidean", description="score = -distance to the "
                                                                                 "prototype (ProtoNets: squared Euclidean)")
    scale: float = Field(10.0, gt=0, description="multiplies the cosine (distance=cosine only)")


class MutualInformationConfig(ModuleConfig):
    clusters: int = Field(16, ge=2, description="number of soft clusters")
    objective: Literal["variational", "joint"] = Field(
        "variational", description="variational: the paper's recommended bound H(p(Z|future), q(Z|past)) - "
                                   "H(mean p(Z|future)) (mmi-tagger); joint: the batch-joint I(Z; Z') the paper "
                                   "calls vulnerable (the previous default)")
    temperature: float = Field(0.1, gt=0, description="softmax temperature of both views' cluster logits (the "
                                                      "post keeps SwAV's 0.1; 1 with objective=joint is the "
                                                      "previous loss)")


class TokenContrastiveConfig(ComponentConfig):
    margin: float = Field(1.0, gt=0, description="pairs of token states closer than this (squared distance) are "
                                                 "pushed apart")
    normalize: bool = Field(True, description="L2-normalise states first, so the margin is scale-free (|a-b|² = "
                                              "2 - 2 cos, i.e. SimCTG's cosine margin)")


class ConicityConfig(ComponentConfig):
    pass


class CombinedTerm(ComponentConfig):
    weight: float = Field(1.0, description="multiplies the term")
    loss: ComponentSpec = component_field("loss", description="the loss component of this term")

    @model_validator(mode="before")
    @classmethod
    def _from_version_1(cls, value):
        """zoo 0.1 stored a term as {weight, name, dist, version, config}: the same spec, flattened."""
        if isinstance(value, dict) and "name" in value and "loss" not in value:
            value = {"weight": value.get("weight", 1.0),
                     "loss": {"kind": "loss", **{k: value[k] for k in ("name", "dist", "version", "config")
                                                 if k in value}}}
        return value


class CombinedConfig(ComponentConfig):
    terms: list[CombinedTerm] = Field(
        default_factory=lambda: [{"weight": 1.0, "loss": "cross_entropy"}], min_length=1, description="weighted loss terms; write loss=cross_entropy+0.1*token_contrastive on the "
                                  "command line")

    @model_validator(mode="after")
    def _no_nesting(self):
        for term in self.terms:
            if term.loss.name == "combined":
                raise ValueError("a combined loss cannot be a term; list the terms directly")
        return self


class DinoConfig(ModuleConfig):
    out_dim: int = Field(1024, ge=2, description="K, the softmax width of the projection head (paper: 65536)")
    hidden_dim: int = Field(256, ge=1, description="width of the projection MLP's hidden layers (paper: 2048)")
    bottleneck_dim: int = Field(64, ge=1, description="width of the L2-normalised bottleneck (paper: 256)")
    layers: int = Field(3, ge=1, le=6, description="linear layers of the MLP before the bottleneck (paper: 3)")
    norm_last_layer: bool = Field(True, description="fix the weight-normalised last layer's g at 1 (paper's default)")
    student_temp: float = Field(0.1, gt=0, description="τ_s of the student's softmax")
    teacher_temp: float = Field(0.04, gt=0, description="τ_t of the teacher's softmax after warm-up (sharpening)")
    warmup_teacher_temp: float = Field(0.04, gt=0, description="τ_t at the first step; linear to teacher_temp")
    warmup_share: float = Field(0.0, ge=0, le=1, description="share of the training steps over which τ_t warms up "
                                                               "(paper: 30 of 100-300 epochs, 0.04 -> 0.07)")
    center_momentum: float = Field(0.9, ge=0, lt=1, description="m of the teacher centre C <- m C + (1-m) mean(t)")
