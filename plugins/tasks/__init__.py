"""Built-in tasks, registered through the same hook a third party uses (torch-free)."""
from zoo_core import hookimpl


@hookimpl
def zoo_register_tasks(register):
    register("classification", task="zoo_plugins.tasks.classification:ClassificationTask",
             summary="class logits; accuracy, macro-F1, per-class precision/recall/F1")
    register("few_shot", task="zoo_plugins.tasks.few_shot:FewShotTask",
             summary="N-way K-shot episodes on held-out classes; episode accuracy with a 95% interval "
                     "(options: ways, shots, queries, episodes, novel)")
    register("retrieval", task="zoo_plugins.tasks.retrieval:RetrievalTask",
             summary="a query retrieves the examples that share its label by cosine; NDCG@k, MAP, recall@k "
                     "(options: per_class, k)")
    register("self_distill", task="zoo_plugins.tasks.self_distill:SelfDistillTask",
             summary="DINO self-distillation (with loss=dino): student vs EMA teacher over crops of each text, no "
                     "labels; kNN accuracy, collapse diagnostics (options: global_crops, local_crops, drop, momentum, k)")
