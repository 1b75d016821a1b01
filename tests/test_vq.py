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
    vq.reset_statistics()
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


def four_clusters(seed=0, dim=8):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, dim, generator=g) * 3
    return centres, g


def cluster_batch(centres, g, per=16):
    labels = torch.arange(4).repeat_interleave(per)
    x = centres[labels] + 0.05 * torch.randn(len(labels), centres.shape[1], generator=g)
    order = torch.randperm(len(labels), generator=g)
    return x[order].view(4, per, -1), labels[order].view(4, per)


def test_codes_in_use_are_never_restarted():
    """Issue 15: a codebook set exactly to four cluster centres must keep one code per cluster
    and restart nothing (with counts starting at 0, zoo restarted 45 codes in 30 steps)."""
    centres, g = four_clusters()
    torch.manual_seed(0)
    vq = zoo_core.create("mixer", "vq", dim=8, codes=4).train()
    with torch.no_grad():
        vq.codebook.copy_(centres)
    vq.reset_statistics()
    broken = 0
    for _ in range(30):
        x, labels = cluster_batch(centres, g)
        mask = torch.ones(x.shape[:2], dtype=torch.bool)
        codes = vq.assign(x.reshape(-1, 8)).view(labels.shape)
        broken += int(not torch.equal(codes, labels))
        vq(x, mask)
    assert int(vq.restarts) == 0 and broken == 0
    assert (vq.codebook - centres).abs().max() < 0.1  # the EMA keeps each code on its cluster


def test_a_dead_code_is_restarted_at_a_batch_token():
    centres, g = four_clusters()
    torch.manual_seed(0)
    vq = zoo_core.create("mixer", "vq", dim=8, codes=5).train()
    with torch.no_grad():
        vq.codebook[:4] = centres
        vq.codebook[4] = 100.0  # never the nearest code: dead
    vq.reset_statistics()
    x, _ = cluster_batch(centres, g)
    vq(x, torch.ones(x.shape[:2], dtype=torch.bool))
    assert int(vq.restarts) == 1
    assert torch.cdist(vq.codebook[4:], x.reshape(-1, 8), compute_mode="donot_use_mm_for_euclid_dist").min() < 1e-6  # a token of the batch itself


def test_restarts_draw_distinct_tokens_of_the_batch():
    """Jukebox restarts from a random permutation of the batch: 31 dead codes from 64 tokens get
    31 different tokens (draws with replacement would almost surely repeat one)."""
    vq = collapsed_vq(True).train()
    x = torch.randn(4, 16, 8, generator=torch.Generator().manual_seed(3))
    vq(x, torch.ones(4, 16, dtype=torch.bool))
    restarted = vq.codebook[1:]
    nearest = torch.cdist(restarted, x.reshape(-1, 8), compute_mode="donot_use_mm_for_euclid_dist").min(1)
    assert nearest.values.max() < 1e-6 and len(set(nearest.indices.tolist())) == 31
