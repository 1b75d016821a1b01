import os

import pytest

# tests never reach the network; unreachable endpoints would retry for ~20 s per file
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)
    yield
