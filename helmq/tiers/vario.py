"""The vario tier: a panel of independent calls (models or samples), a vote on their
verdicts with the dissent recorded, and the winner's edits applied on the item's branch."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field

from helmq.domain.item import WorkItem
from helmq.domain.outcome import Outcome
from helmq.llm.ask import ask_panel
from helmq.tiers.context import StageContext
from helmq.tiers.llm_edits import SYSTEM, Change, apply_answer, build_prompt, start

VARIO_SYSTEM = SYSTEM + """
You are one of several independent reviewers of the same item. Also give a `verdict`:
`change` (your edits settle it), `report` (it needs a written answer, no edits), or
`no_action` (it is obsolete, already done, or should not be done), with your reasons.
"""

CONSERVATIVE_ORDER = ("no_action", "report", "change")
TIE_RULE = "a tie goes to the more conservative verdict (no_action, then report, then change)"


class VarioAnswer(Change):
    """One panel member's answer for the vario tier."""

    verdict: Literal["change", "report", "no_action"]
    reasons: str = Field(max_length=4000)


def vote(answers: list[VarioAnswer]) -> tuple[str, int]:
    """The winning verdict and the index of the answer to follow; `TIE_RULE` breaks ties."""
    counts: Counter[str] = Counter(a.verdict for a in answers)
    top = max(counts.values())
    winner = next(v for v in CONSERVATIVE_ORDER if counts.get(v) == top)
    return winner, next(i for i, a in enumerate(answers) if a.verdict == winner)


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """A panel of independent calls, a vote on their verdicts, the winner's edits applied."""
    started = start(item, ctx)
    if isinstance(started, Outcome):
        return started
    meter, wt = started
    assert ctx.llm is not None
    panel = ctx.llm.vario
    models = list(panel.models) or [ctx.llm.model_for("vario")] * panel.samples
    asked = ask_panel(meter, models, "vario", VARIO_SYSTEM, build_prompt(item, wt.path),
                      VarioAnswer, max_tokens=8000, what=f"vario for item {item.item_key}")
    if isinstance(asked, Outcome):
        return asked
    results, errors = asked
    answers: list[VarioAnswer] = []
    for _, r in results:
        assert r.data is not None  # json_call raises BadOutput rather than answer without data
        answers.append(r.data)
    verdict, chosen = vote(answers)
    ballots = [{"model": m, "verdict": a.verdict, "reasons": a.reasons,
                "summary": a.summary, "edits": len(a.edits)}
               for (m, _), a in zip(results, answers, strict=True)]
    ballots += [{"model": m, "verdict": "error", "reasons": str(e)} for m, e in errors]
    dissent = [b for i, b in enumerate(ballots) if i >= len(answers)
               or answers[i].verdict != verdict]
    extra = {"vote": {"verdict": verdict, "tally": dict(Counter(a.verdict for a in answers)),
                      "followed": results[chosen][0], "ballots": ballots, "dissent": dissent,
                      "tie_rule": TIE_RULE}}
    winner = answers[chosen]
    answer: Change = winner
    if verdict != "change":
        answer = Change(summary=winner.summary, edits=[],
                        report=winner.report or f"{verdict}: {winner.reasons}")
    return apply_answer(item, wt, answer, meter, extra)
