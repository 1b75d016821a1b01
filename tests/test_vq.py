"""The vq mixer: nearest code, straight-through gradient, commitment loss that reaches the
task loss, and dead codes revived by random restarts (Jukebox 3.1)."""
import torch

import zoo_core
from zoo_core.tasks import auxiliary_loss


def clustered(n_clusters=32, per=8, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, dim, generator=g) * 3
    x = centres.repeat_interleave(per, 0) + 0.05 * torch.randn(n_clusters * per, dim, generator=g)
    return x[torch.randperm(len(x), generator=g)].view(-1, 16, dim)


def collapsed_vq(restart):
    torch.manual_seed(0)
    vq = zoo_core.create("mixer", "vq", dim=8, codes=32, restart=restart)
    with torch.no_grad():  # every code but one far away from the data: a collapsed codebook
        vq.codebook.fill_(100.0)
        vq.codebook[0] = 0.0
    return vq


def test_dead_codes_are_revived_by_random_restarts():
    data = clustered()
    mask = torch.ones(data.shape[:2], dtype=torch.bool)
    usage = {}
    for restart in (False, True):
        vq = collapsed_vq(restart).train()
        for _ in range(30):
            vq(data, mask)
        usage[restart] = vq.codebook_usage()
    assert usage[False]["used"] <= 1 / 32 and usage[False]["perplexity"] < 1.5
    assert usage[True]["used"] >= 0.6 and usage[True]["perplexity"] > 15 and usage[True]["restarts"] > 0
    # revived codes sit on the data: quantisation error far below the collapsed codebook's
    vq = collapsed_vq(True).train()
    for _ in range(30):
        vq(data, mask)
    vq.eval()
    err = (vq(data, mask) - data).pow(2).mean()
    assert err < 0.5 * (collapsed_vq(False).eval()(data, mask) - data).pow(2).mean()


def test_nearest_code_straight_through_and_commitment():
    vq = zoo_core.create("mixer", "vq", dim=4, codes=3, beta=0.5).eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0] * 4, [1.0] * 4, [-1.0] * 4]))
    x = torch.tensor([[[0.9] * 4, [-0.8] * 4, [0.1] * 4, [7.0] * 4]], requires_grad=True)
    mask = torch.tensor([[True, True, True, False]])
    out = vq(x, mask)
    assert torch.equal(out[0, :3], vq.codebook[[1, 2, 0]])
    want = 0.5 * torch.tensor([0.1 ** 2, 0.2 ** 2, 0.1 ** 2]).mean()  # padding not counted
    assert torch.isclose(vq.aux_loss, want)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # straight-through


def test_commitment_loss_reaches_the_task_loss():
    model = zoo_core.build(["mixer=[vq,identity]", "dim=16", "mixer.0.beta=1.0"])
    model.train()
    inputs = model.encode([["hello", "world"], ["zoo"]])
    out = model(inputs)
    aux = auxiliary_loss(model)
    assert aux is not None and torch.isclose(aux, model.mixers[0].aux_loss) and aux.requires_grad
    from zoo_core.tasks import get_task

    target = torch.tensor([0, 1])
    total = get_task("classification").loss(model, out, target, [0, 1])
    assert torch.isclose(total, model.loss(out, target) + aux)
