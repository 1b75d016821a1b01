"""Distributed data parallel under torchrun (WORLD_SIZE > 1): gloo on CPU, NCCL on GPU.

A global batch is split over the ranks; each rank's loss is weighted so the ranks'
averaged gradient equals the gradient of the global batch mean. DDP all-reduces sparse
gradients only for nn.Embedding/EmbeddingBag modules; an embedder with sparse gradients
keeps its tables as plain parameters, so DDP leaves those out and ``reduce_sparse_grads``
all-reduces them after backward.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: list[int]) -> tuple[list[int], float]:
        """This rank's part of a global batch and the weight of its loss."""
        if self.world == 1:
            return idx, 1.0
        local = idx[self.rank::self.world]
        if not local:  # fewer examples than ranks: run one, weighted 0, so every rank all-reduces
            return idx[:1], 0.0
        return local, len(local) * self.world / len(idx)

    def any(self, flag: bool, device) -> bool:
        """True when ``flag`` is true on any rank (every rank must call it)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


def init_distributed(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group when torchrun started this process; the device may change to
    this rank's GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(), device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size()), device


def wrap_ddp(model, device: torch.device, sparse: dict):
    from torch.nn.parallel import DistributedDataParallel

    if sparse:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, list(sparse))
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def reduce_sparse_grads(params, world: int) -> None:
    """What DDP does for dense gradients, for the parameters it was told to leave out: the
    mean over ranks. gloo all-reduces sparse tensors itself; nccl cannot, so there the
    gradient is all-reduced dense and made sparse again."""
    import torch.distributed as dist

    for p in params:
        g = p.grad
        if g is None:  # every rank must join each all-reduce: an untouched table sends nothing
            g = torch.sparse_coo_tensor(torch.empty((1, 0), dtype=torch.long, device=p.device),
                                        p.new_zeros((0, *p.shape[1:])), p.shape, check_invariants=False)
        if g.is_sparse and dist.get_backend() != "gloo":
            g = g.to_dense()
            dist.all_reduce(g)
            g = g.to_sparse(1)
        else:
            dist.all_reduce(g)
        p.grad = g.div_(world) if not g.is_sparse else g * (1.0 / world)
