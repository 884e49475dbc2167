"""An in-process judge for tests: a provider whose answers are a function of the judge prompt.

    judge = judge_model(lambda prompt: scores(3, 0))

`slots(prompt)` finds the two answers a pairwise judge prompt shows (legal_quality's `Answer 1:`/`Answer 2:`,
preference's `Answer A:`/`Answer B:`), so a responder can favour one model whichever slot it is in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from evalkit.cache import ResponseCache
from evalkit.errors import ProviderError
from evalkit.model import Model
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers import Provider
from evalkit.records import ProviderResponse, Request, Usage

_SLOT = re.compile(r"Answer (?:1|2|A|B):\n<<<\n(.*?)\n>>>", re.DOTALL)
_SINGLE = re.compile(r"Answer to grade:\n<<<\n(.*?)\n>>>", re.DOTALL)

Responder = Callable[[str], str]
JUDGE_SPEC = ModelSpec(name="judge", provider="openai", model="judge-x", max_retries=0,
                       price=Price(input_per_mtok=2.0, output_per_mtok=6.0))


class ScriptedJudge(Provider):
    """A provider: `respond(first user message)` for each call, or the next of `queue` while it lasts.

    `respond` may raise a ProviderError to fail a call; a queued Exception is raised likewise.
    """

    def __init__(self, respond: Responder | None = None, queue: Sequence[str | Exception] = ()) -> None:
        super().__init__(JUDGE_SPEC)
        self.respond = respond
        self.queue = list(queue)
        self.requests: list[Request] = []

    async def generate(self, request: Request) -> ProviderResponse:
        self.requests.append(request)
        if self.queue:
            item = self.queue.pop(0)
            if isinstance(item, Exception):
                raise item
            text = item
        else:
            assert self.respond is not None, "ScriptedJudge ran out of queued answers"
            text = self.respond(request.prompt.messages[0].content)
        return ProviderResponse(text=text, usage=Usage(prompt_tokens=100, completion_tokens=20))


def judge_model(respond: Responder | None = None, *, queue: Sequence[str | Exception] = (),
                cache: ResponseCache | None = None) -> Model:
    """A judge Model (priced, so costs are known) over a ScriptedJudge."""
    return Model(spec=JUDGE_SPEC, provider=ScriptedJudge(respond, queue), cache=cache)


def slots(prompt: str) -> tuple[str, str]:
    """The answers shown in slot 1 and slot 2 of a pairwise judge prompt."""
    found = _SLOT.findall(prompt)
    assert len(found) == 2, f"expected two answers in the judge prompt, found {len(found)}"
    return found[0], found[1]


def graded_answer(prompt: str) -> str:
    """The answer shown to a single-answer judge."""
    found = _SINGLE.findall(prompt)
    assert len(found) == 1
    return found[0]


LQ_CRITERIA = ("citation", "argumentation", "form")


def scores(s1: int, s2: int, why: str = "ok") -> str:
    """A legal_quality (v2) answer whose totals are s1 and s2: each slot gets its points on the first criteria."""
    body: dict[str, object] = {"justification": why}
    for i, c in enumerate(LQ_CRITERIA):
        body[f"{c}_answer_1"] = int(i < s1)
        body[f"{c}_answer_2"] = int(i < s2)
    return json.dumps({**body, "score_answer_1": s1, "score_answer_2": s2})


def criterion_scores(points_1: tuple[int, int, int], points_2: tuple[int, int, int], why: str = "ok") -> str:
    """A legal_quality (v2) answer with the given per-criterion points (citation, argumentation, form)."""
    body: dict[str, object] = {"justification": why}
    for c, a, b in zip(LQ_CRITERIA, points_1, points_2):
        body[f"{c}_answer_1"], body[f"{c}_answer_2"] = a, b
    return json.dumps({**body, "score_answer_1": sum(points_1), "score_answer_2": sum(points_2)})


def choice(winner: str, why: str = "ok") -> str:
    """A preference answer."""
    return json.dumps({"justification": why, "winner": winner})


def rubric(score: int, why: str = "ok") -> str:
    """An additive_rubric answer."""
    return json.dumps({"justification": why, "score": score})


FATAL = ProviderError("HTTP 400 bad request", retryable=False)
"""A judge call failure the wrapper does not retry."""
