"""The judge path through the real `mistralai` SDK against the loopback fake server: the request carries
response_format json_schema with the judge file's schema, and the JSON answer is parsed and recorded."""

from __future__ import annotations

import asyncio
import json

from fakeserver import FakeLLMServer, Reply

from evalkit.judging import ask_judge, slot_scores
from evalkit.model import Model
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers import create_provider
from evalkit.tasks.judged import find_task_judge
from judging.fakejudge import scores

KEY_ENV = "EVALKIT_TEST_API_KEY"


def test_mistral_judge_requests_json_schema_and_parses_the_answer(fake_server: FakeLLMServer, api_key: str) -> None:
    spec = find_task_judge("legal_quality")
    answers = iter(["Je préfère la réponse 1.", scores(3, 1, "La réponse 1 cite l'article 1728.")])
    fake_server.responder = lambda body: Reply(next(answers), prompt_tokens=900, completion_tokens=40)
    judge_spec = ModelSpec(name="mistral-large", provider="mistral", model="mistral-large-latest",
                           base_url=fake_server.url, api_key_env=KEY_ENV, max_retries=0,
                           price=Price(input_per_mtok=2.0, output_per_mtok=6.0))
    judge = Model(spec=judge_spec, provider=create_provider(judge_spec))

    async def go():
        try:
            return await ask_judge(judge, spec, {"question": "Q ?", "answer_1": "R1", "answer_2": "R2"},
                                   spec.variables, seed=3)
        finally:
            await judge.aclose()

    out = asyncio.run(go())
    assert out.ok and slot_scores(spec, out.value) == (3.0, 1.0)
    assert fake_server.call_count == 2  # one re-ask after the prose answer
    for request in fake_server.requests:
        assert request.body["response_format"] == {
            "type": "json_schema", "json_schema": {"name": "output", "schema": spec.output_schema, "strict": True}}
        assert request.body["model"] == "mistral-large-latest" and request.body["temperature"] == 0.0
        assert request.body["random_seed"] == 3
    reask = fake_server.requests[1].body["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "user"]
    assert reask[1]["content"] == "Je préfère la réponse 1."
    last = out.judgments[-1]
    assert last.judge_model == "mistral-large-latest" and last.usage.prompt_tokens == 900
    assert last.cost_usd == (900 * 2.0 + 40 * 6.0) / 1e6
    assert last.parsed == json.loads(scores(3, 1, "La réponse 1 cite l'article 1728."))
    assert last.parsed["citation_answer_1"] == 1 and last.parsed["form_answer_2"] == 0
