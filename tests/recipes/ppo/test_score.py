"""Normalized-score arithmetic against the ProcGen paper's published (R_min, R_max) constants."""
import math

import pytest

from recipes.ppo import PROCGEN_GAMES, RETURN_BOUNDS, mean_normalized_score, normalized_score


def test_constants_cover_every_game_and_match_the_paper_for_easy_mode():
    assert set(RETURN_BOUNDS["easy"]) == set(PROCGEN_GAMES)
    assert set(RETURN_BOUNDS["hard"]) == set(PROCGEN_GAMES)
    published_easy = {  # Cobbe et al. 2020, Appendix
        "coinrun": (5, 10), "bigfish": (1, 40), "bossfight": (0.5, 13), "caveflyer": (3.5, 12),
        "chaser": (0.5, 13), "climber": (2, 12.6), "dodgeball": (1.5, 19),
        "fruitbot": (-1.5, 32.4), "heist": (3.5, 10), "jumper": (3, 10), "leaper": (3, 10),
        "maze": (5, 10), "miner": (1.5, 13), "ninja": (3.5, 10), "plunder": (4.5, 30),
        "starpilot": (2.5, 64),
    }
    assert RETURN_BOUNDS["easy"] == {g: (float(a), float(b)) for g, (a, b) in published_easy.items()}


def test_normalized_score_maps_rmin_to_0_and_rmax_to_1():
    assert normalized_score("coinrun", 5.0) == 0.0
    assert normalized_score("coinrun", 10.0) == 1.0
    assert normalized_score("coinrun", 7.5) == pytest.approx(0.5)
    assert normalized_score("fruitbot", 15.45) == pytest.approx(0.5)
    assert normalized_score("starpilot", 64.0 + 61.5) == pytest.approx(2.0)  # not clipped
    assert normalized_score("starpilot", 1.5, "hard") == 0.0


def test_mean_normalized_score_averages_games():
    score = mean_normalized_score({"coinrun": 10.0, "starpilot": 2.5})
    assert score == pytest.approx(0.5)
    assert math.isnan(mean_normalized_score({"coinrun": math.nan, "starpilot": 2.5}))


def test_unknown_game_or_mode_names_the_field():
    with pytest.raises(ValueError, match="game"):
        normalized_score("pong", 1.0)
    with pytest.raises(ValueError, match="distribution_mode"):
        normalized_score("coinrun", 1.0, "exploration")
    with pytest.raises(ValueError, match="returns"):
        mean_normalized_score({})
