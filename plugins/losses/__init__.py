"""Built-in losses (kind ``loss``). ``loss=a+0.1*b`` combines them (the ``combined`` loss's syntax)."""
from zoo_core import hookimpl

from . import configs

@hookimpl
def zoo_register_components(register):
    register("loss", "cross_entropy", factory="zoo_plugins.losses.cross_entropy:CrossEntropyLoss",
             config=configs.CrossEntropyConfig,
             summary="categorical cross-entropy over class logits (optionally label-smoothed)")
    register("loss", "distill", factory="zoo_plugins.losses.distill:DistillLoss", config=configs.DistillConfig,
             summary="knowledge distillation: hard-label CE + T^2 KL to a teacher's softened probabilities "
                     "(outputs['teacher_probs'], supplied by the runner)")
    register("loss", "soft_nearest_neighbor", factory="zoo_plugins.losses.soft_nearest_neighbor:SoftNearestNeighborLoss",
             config=configs.SoftNearestNeighborConfig,
             summary="soft nearest neighbour: same-label neighbours under a Gaussian kernel (pooled vectors, no head)")
    register("loss", "approx_ndcg", factory="zoo_plugins.losses.approx_ndcg:ApproxNDCGLoss",
             config=configs.ApproxNDCGConfig,
             summary="1 - NDCG with sigmoid-approximated ranks; in-batch retrieval on cosine scores")
    register("loss", "smooth_ap", factory="zoo_plugins.losses.smooth_ap:SmoothAPLoss",
             config=configs.SmoothAPConfig,
             summary="1 - average precision with sigmoid-approximated ranks; in-batch retrieval")
    register("loss", "triplet_cosine", factory="zoo_plugins.losses.triplet_cosine:TripletCosineLoss",
             config=configs.TripletCosineConfig,
             summary="in-batch triplets on cosine scores, margin 0.3 (all active or hardest)")
    register("loss", "prototypical", factory="zoo_plugins.losses.prototypical:PrototypicalLoss",
             config=configs.PrototypicalConfig,
             summary="episodic few-shot loss: softmax over -distance to class prototypes of the support set")
    register("loss", "mutual_information", factory="zoo_plugins.losses.mutual_information:MutualInformationLoss",
             config=configs.MutualInformationConfig,
             summary="-I(Z; Z') of soft clusters of two views (first/second half of the tokens); no negatives, "
                     "no labels")
    register("loss", "token_contrastive", factory="zoo_plugins.losses.token_contrastive:TokenContrastiveLoss",
             config=configs.TokenContrastiveConfig,
             summary="regulariser: token states of a sequence keep a squared-distance margin (SimCTG)")
    register("loss", "conicity", factory="zoo_plugins.losses.conicity:ConicityLoss",
             config=configs.ConicityConfig,
             summary="regulariser: mean cosine of each token state with the sequence's mean state")
    register("loss", "dino", factory="zoo_plugins.losses.dino:DinoLoss", config=configs.DinoConfig,
             summary="DINO self-distillation: student vs centred, sharpened EMA teacher over different views "
                     "(task=self_distill; no labels)")
    register("loss", "combined", factory="zoo_plugins.losses.combined:CombinedLoss",
             config=configs.CombinedConfig, syntax="zoo_plugins.losses.combined_syntax:CombinedSyntax",
             summary="weighted sum of losses; write loss=cross_entropy+0.1*token_contrastive")
