"""Built-in losses (kind ``loss``). ``loss=a+0.1*b`` combines them (the ``combined`` loss's syntax)."""
from zoo_core import hookimpl

from . import configs

_IR = "Directly Optimize IR Metrics"


@hookimpl
def zoo_register_components(register):
    register("loss", "cross_entropy", factory="zoo_plugins.losses.cross_entropy:CrossEntropyLoss",
             config=configs.CrossEntropyConfig,
             summary="categorical cross-entropy over class logits (optionally label-smoothed)",
             post="LambdaNetworks: A Quick Glimpse; [MASK] is All You Need",
             paper="Szegedy et al., Rethinking the Inception Architecture (label smoothing, CVPR 2016)")
    register("loss", "soft_nearest_neighbor", factory="zoo_plugins.losses.soft_nearest_neighbor:SoftNearestNeighborLoss",
             config=configs.SoftNearestNeighborConfig,
             summary="soft nearest neighbour: same-label neighbours under a Gaussian kernel (pooled vectors, no head)",
             post="Implementing Loss Functions",
             paper="Frosst, Papernot, Hinton, Analyzing and Improving Representations with the Soft Nearest "
                   "Neighbor Loss (ICML 2019, arXiv:1902.01889)")
    register("loss", "approx_ndcg", factory="zoo_plugins.losses.approx_ndcg:ApproxNDCGLoss.from_config",
             config=configs.ApproxNDCGConfig,
             summary="1 - NDCG with sigmoid-approximated ranks; in-batch retrieval on cosine scores",
             post=_IR, paper="Qin, Liu, Li, A General Approximation Framework for Direct Optimization of "
                             "Information Retrieval Measures (MSR-TR-2008-164; Inf. Retrieval 2010)")
    register("loss", "smooth_ap", factory="zoo_plugins.losses.smooth_ap:SmoothAPLoss",
             config=configs.SmoothAPConfig,
             summary="1 - average precision with sigmoid-approximated ranks; in-batch retrieval",
             post=_IR, paper="Brown et al., Smooth-AP (ECCV 2020, arXiv:2007.12163)")
    register("loss", "triplet_cosine", factory="zoo_plugins.losses.triplet_cosine:TripletCosineLoss",
             config=configs.TripletCosineConfig,
             summary="in-batch triplets on cosine scores, margin 0.3 (all active or hardest)",
             post="Who's Afraid of the Recurrent Wolf?",
             paper="Schroff et al., FaceNet (CVPR 2015); Hermans et al., In Defense of the Triplet Loss "
                   "(arXiv:1703.07737)")
    register("loss", "prototypical", factory="zoo_plugins.losses.prototypical:PrototypicalLoss",
             config=configs.PrototypicalConfig,
             summary="episodic few-shot loss: softmax over -distance to class prototypes of the support set",
             post="Contextual Prototype Memory",
             paper="Snell, Swersky, Zemel, Prototypical Networks for Few-shot Learning (NeurIPS 2017)")
    register("loss", "mutual_information", factory="zoo_plugins.losses.mutual_information:MutualInformationLoss.from_config",
             config=configs.MutualInformationConfig,
             summary="-I(Z; Z') of soft clusters of two views (first/second half of the tokens); no negatives, "
                     "no labels",
             post="Contrastive Learning By Maximizing Mutual Information",
             paper="Stratos, Mutual Information Maximization for Simple and Accurate Part-Of-Speech Induction "
                   "(NAACL 2019)")
    register("loss", "token_contrastive", factory="zoo_plugins.losses.token_contrastive:TokenContrastiveLoss",
             config=configs.TokenContrastiveConfig,
             summary="regulariser: token states of a sequence keep a squared-distance margin (SimCTG)",
             post="Avoid Collapsed Token Representations",
             paper="Su et al., A Contrastive Framework for Neural Text Generation (SimCTG, arXiv:2202.06417)")
    register("loss", "conicity", factory="zoo_plugins.losses.conicity:ConicityLoss",
             config=configs.ConicityConfig,
             summary="regulariser: mean cosine of each token state with the sequence's mean state",
             post="Avoid Collapsed Token Representations",
             paper="Mohankumar et al., Towards Transparent and Explainable Attention Models (ACL 2020.387)")
    register("loss", "combined", factory="zoo_plugins.losses.combined:CombinedLoss",
             config=configs.CombinedConfig, syntax="zoo_plugins.losses.combined_syntax:CombinedSyntax",
             summary="weighted sum of losses; write loss=cross_entropy+0.1*token_contrastive")
