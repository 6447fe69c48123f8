"""Vario's vote, without a model: ties break toward the conservative verdict."""

from __future__ import annotations

from helmq.tiers.vario import VarioAnswer, vote


def test_vote_breaks_ties_toward_the_conservative_verdict():
    def answer(v: str) -> VarioAnswer:
        return VarioAnswer(summary="s", verdict=v, reasons="r")

    assert vote([answer("change"), answer("no_action")]) == ("no_action", 1)
    assert vote([answer("change"), answer("report"), answer("change")]) == ("change", 0)
    assert vote([answer("report"), answer("change")]) == ("report", 0)
