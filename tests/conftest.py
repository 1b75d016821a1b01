import os

import pytest

# tests never reach the network; unreachable endpoints would retry for ~20 s per file
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _few_threads_and_a_fixed_seed():
    """One thread (2-core machines) and the same random draws whatever the test order."""
    import random

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    yield
