"""Hostile input to the trial contract's spaces: every case is an error naming the field."""
import pytest

from tays import CategoricalSpace, SearchSpaceError, param_from_spec


@pytest.mark.parametrize(("choices", "words"), [
    ("ab", "not str 'ab'"),  # it was split into 'a' and 'b'
    (b"ab", "not bytes"),
    ({"gelu", "relu"}, "a set has no order"),
    (3, "not int 3"),
])
def test_choices_must_be_a_list(choices, words):
    with pytest.raises(ValueError, match="choices must be a list") as err:
        CategoricalSpace(choices)
    assert words in str(err.value)


def test_a_search_space_with_a_string_of_choices_names_the_entry():
    with pytest.raises(SearchSpaceError, match=r"^search_space\.model\.act: choices must be a list"):
        param_from_spec("model.act", {"space": "categorical", "choices": "gelu"})
