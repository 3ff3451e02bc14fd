"""What the recipe tests share."""
import math

import pytest


def _check_failed(result: dict, *words: str) -> str:
    """Assert ``result`` is a failed trial that spent nothing and whose error names every one of
    ``words``; returns the error."""
    assert result["status"] == "failed", result
    assert math.isnan(result["output"]) and result["cost"] == 0.0
    for word in words:
        assert word in result["error"], (word, result["error"])
    return result["error"]


@pytest.fixture
def failed():
    """The check of a failed result: ``failed(result, *words_its_error_names)``."""
    return _check_failed
