"""recipes.common.composer_device: Composer's name of a resolved device."""
from __future__ import annotations

import torch

from recipes.common import composer_device


def test_composer_names_cuda_gpu():
    assert composer_device(torch.device("cpu")) == "cpu"
    assert composer_device(torch.device("cuda", 1)) == "gpu"
