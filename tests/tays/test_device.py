"""tays.resolve_device: one resolver for the optimiser's and both recipes' ``device`` values."""
from __future__ import annotations

import pytest
import torch

from tays import resolve_device


def test_auto_and_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
@pytest.mark.parametrize(("name", "field"), [("gpu", "train.device"), ("cuda", "device"),
                                             ("cuda:1", "device")])
def test_a_gpu_without_cuda_is_an_error_naming_the_field(name, field):
    with pytest.raises(ValueError, match=f"{field}='{name}' but CUDA is not available"):
        resolve_device(name, field)


def test_a_name_torch_does_not_know_is_an_error_naming_the_field():
    with pytest.raises(ValueError, match="device='tpu9' is not a torch device"):
        resolve_device("tpu9")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_is_cuda():
    assert resolve_device("gpu") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
