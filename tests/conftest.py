import pytest
import torch


@pytest.fixture
def gen() -> torch.Generator:
    """A fixed-seed generator: every test is deterministic."""
    torch.manual_seed(0)
    return torch.Generator().manual_seed(0)
