"""The response cache: keys unchanged by the fast construction, group-committed writes that are durable when
they return, batched lookups, and Model.cached / cached_many answering exactly as generate would."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import string
from pathlib import Path

import pytest

from evalkit.cache import CACHE_VERSION, ResponseCache, cache_key
from evalkit.model import Model
from evalkit.model_spec import ModelSpec
from evalkit.providers import Provider
from evalkit.records import (
    GenerationParams,
    Message,
    Prompt,
    ProviderResponse,
    Request,
    Usage,
)

SPEC = ModelSpec(name="ft", provider="openai", model="my-org/ft", base_url="http://localhost:8000/v1")


def reference_key(spec: ModelSpec, request: Request, identity: dict[str, str]) -> str:
    """The key as CACHE_VERSION 2 always built it: one payload dict, model_dump, json.dumps(sort_keys)."""
    payload = {"v": CACHE_VERSION, "provider": spec.provider, "model": spec.model, "base_url": spec.base_url,
               "identity": dict(sorted(identity.items())), "prompt": request.prompt.model_dump(mode="json"),
               "params": request.params.model_dump(mode="json"), "attempt": request.attempt}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def test_known_keys_are_unchanged() -> None:
    """Two keys computed by the code before the fast construction: users' caches stay valid."""
    request = Request(prompt=Prompt(messages=(Message(role="system", content="Classify."),
                                              Message(role="user", content='héllo "x"'))),
                      params=GenerationParams(temperature=0.3, max_tokens=12, seed=7, stop=("###",),
                                              json_schema={"type": "object", "b": 1, "a": [1.5, None]}),
                      attempt=1)
    assert cache_key(SPEC, request, {"options": "{}", "adapter": ""}) == (
        "6c0969328628f3dfd884e2856a67c0f9860b0751a4b5e22f3ee0c65fd3e792c7")
    text = Request(prompt=Prompt(text="The capital of France is"))
    assert cache_key(SPEC, text, {"options": '{"headers": {}}', "adapter": "a/b"}) == (
        "c4a2a21ba8c5608829acd14644267e42db7d241098a408e06e2c298c3b1ffec1")


def random_text(rng: random.Random) -> str:
    alphabet = string.printable + 'é✓"\\\u2028\x00\x1f𝄞'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


def test_keys_equal_the_reference_construction_on_random_requests() -> None:
    rng = random.Random(13)
    specs = [SPEC, ModelSpec(name="m", provider="mistral", model="ft:x", base_url=None),
             ModelSpec(name="l", provider="llamacpp", model="m.gguf", options={"n_ctx": 512})]
    shared = GenerationParams(max_tokens=4, seed=0)
    for _ in range(2000):
        if rng.random() < 0.5:
            prompt = Prompt(messages=tuple(Message(role=rng.choice(["system", "user", "assistant", "tool"]),
                                                   content=random_text(rng)) for _ in range(rng.randint(0, 4))))
        else:
            prompt = Prompt(text=random_text(rng))
        params = shared if rng.random() < 0.5 else GenerationParams(
            temperature=rng.choice([0.0, 0.7, 1e-7, 1.0 / 3]), max_tokens=rng.randint(1, 999),
            top_p=rng.random(), seed=rng.choice([None, 0, 2**40]), stop=tuple(random_text(rng) for _ in range(2)),
            json_schema=rng.choice([None, {"z": 1, "a": {"y": [random_text(rng)], "b": None}}]))
        request = Request(prompt=prompt, params=params, attempt=rng.randint(0, 3), sample_id=random_text(rng))
        identity = {random_text(rng): random_text(rng) for _ in range(rng.randint(0, 3))}
        spec = rng.choice(specs)
        assert cache_key(spec, request, identity) == reference_key(spec, request, identity)


def test_the_sample_id_is_not_part_of_the_key() -> None:
    a, b = (Request(prompt=Prompt(text="same"), sample_id=s) for s in ("s1", "s2"))
    assert cache_key(SPEC, a, {}) == cache_key(SPEC, b, {})
    assert cache_key(SPEC, a, {}) != cache_key(SPEC, a.model_copy(update={"attempt": 1}), {})


RESPONSE = ProviderResponse(text="positive", usage=Usage(prompt_tokens=3, completion_tokens=1), finish_reason="stop")


def rows_on_disk(path: Path) -> int:
    """Committed rows, as another process would see them."""
    with sqlite3.connect(str(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


def test_writes_of_one_turn_share_one_transaction_and_are_committed_when_they_return(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    commits: list[int] = []
    commit = cache._commit_pending
    monkeypatch.setattr(cache, "_commit_pending", lambda: (commits.append(len(cache._pending)), commit())[1])
    seen_at_return: list[int] = []

    async def one(i: int) -> None:
        await cache.write(f"k{i}", RESPONSE, 0.5)
        seen_at_return.append(rows_on_disk(cache.path))

    async def go() -> None:
        await asyncio.gather(*(one(i) for i in range(40)))  # all in one turn
        await one(40)  # alone in a later turn

    asyncio.run(go())
    assert commits == [40, 1]
    # Every writer resumed only after its row was committed (visible to another connection).
    assert seen_at_return[:40] == [40] * 40 and seen_at_return[40] == 41
    assert cache.get("k7") == (RESPONSE, 0.5)
    cache.close()


def test_pending_rows_are_read_and_a_cancelled_writer_still_lands_by_close(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)

    async def go() -> None:
        task = asyncio.ensure_future(cache.write("k", RESPONSE, 0.1))
        await asyncio.sleep(0)  # the row is pending, its commit scheduled
        assert cache.get("k") == (RESPONSE, 0.1)
        assert cache.get_many(["k", "nope"]) == {"k": (RESPONSE, 0.1)}
        task.cancel()

    asyncio.run(go())
    cache.close()
    assert rows_on_disk(cache.path) == 1


def test_get_many_reads_thousands_of_keys_in_chunks(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    for i in range(1200):
        cache.put(f"k{i}", RESPONSE.model_copy(update={"text": str(i)}), float(i))
    keys = [f"k{i}" for i in range(0, 2400, 2)]  # half of them missing
    hits = cache.get_many(keys)
    assert sorted(hits) == sorted(f"k{i}" for i in range(0, 1200, 2))
    assert hits["k1000"] == (RESPONSE.model_copy(update={"text": "1000"}), 1000.0)
    cache.close()


class Echo(Provider):
    def __init__(self) -> None:
        super().__init__(SPEC)
        self.calls = 0

    async def generate(self, request: Request) -> ProviderResponse:
        self.calls += 1
        return ProviderResponse(text=f"echo {request.prompt.text}", usage=Usage(prompt_tokens=1, completion_tokens=2))


class Uncacheable(Echo):
    cacheable = False


def requests(n: int) -> list[Request]:
    return [Request(prompt=Prompt(text=f"q{i}"), sample_id=f"s{i}") for i in range(n)]


def test_cached_returns_what_generate_would_and_counts_hits(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    first = Model(spec=SPEC, provider=Echo(), cache=cache)
    made = asyncio.run(first.generate(requests(1)[0]))
    again = Model(spec=SPEC, provider=Echo(), cache=cache)
    request = requests(2)[0].model_copy(update={"sample_id": "other"})
    assert again.cached(requests(2)[1]) is None and again.stats.cache_hits == 0
    hit = again.cached(request)
    assert hit is not None and hit.cached and again.stats.cache_hits == 1 and again.provider.calls == 0
    via_generate = asyncio.run(again.generate(request))
    assert hit == via_generate and hit.sample_id == "other"
    assert hit.output == made.output and hit.latency_s == pytest.approx(made.latency_s) and hit.ttft_s is None
    cache.close()


def test_cached_many_is_cached_for_each_request_in_order(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    model = Model(spec=SPEC, provider=Echo(), cache=cache)
    reqs = requests(700)

    async def fill() -> None:
        await asyncio.gather(*(model.generate(r) for r in reqs[::3]))

    asyncio.run(fill())
    model.stats.cache_hits = 0
    batch = model.cached_many(reqs)
    assert batch == [model.cached(r) for r in reqs]
    assert [g is not None for g in batch] == [i % 3 == 0 for i in range(700)]
    assert model.stats.cache_hits == 2 * len(reqs[::3])
    cache.close()


def test_cached_is_none_without_cache_or_for_an_uncacheable_provider(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    r = requests(1)[0]
    asyncio.run(Model(spec=SPEC, provider=Echo(), cache=cache).generate(r))
    assert Model(spec=SPEC, provider=Echo(), cache=None).cached(r) is None
    uncacheable = Model(spec=SPEC, provider=Uncacheable(), cache=cache)
    assert uncacheable.cached(r) is None and uncacheable.cached_many([r]) == [None]
    assert uncacheable.stats.cache_hits == 0
    cache.close()


def test_has_sees_committed_and_pending_rows(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    cache.put("done", RESPONSE, 0.1)

    async def go() -> None:
        task = asyncio.ensure_future(cache.write("pending", RESPONSE, 0.1))
        await asyncio.sleep(0)
        assert cache.has("pending") and cache.has("done") and not cache.has("nope")
        await task

    asyncio.run(go())
    model = Model(spec=SPEC, provider=Echo(), cache=cache)
    assert not model.is_cached(requests(1)[0])
    asyncio.run(model.generate(requests(1)[0]))
    assert model.is_cached(requests(1)[0]) and model.stats.cache_hits == 0
    cache.close()


def test_call_skips_the_lookup_but_stores_the_answer(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    provider = Echo()
    model = Model(spec=SPEC, provider=provider, cache=cache)
    r = requests(1)[0]
    first = asyncio.run(model.call(r))
    assert not first.cached and provider.calls == 1 and model.cached(r) is not None
    again = asyncio.run(model.call(r))  # a lookup-free call calls, whatever the cache holds
    assert not again.cached and provider.calls == 2 and model.stats.calls == 2 and len(cache) == 1
    cache.close()
