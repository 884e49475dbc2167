"""In-process CPU of evalkit's own per-request steps, µs per call (tight loops: inside a real run, with the
HTTP client between them, each costs 2-3x more). `python records_micro.py [TREE]` (default: installed evalkit)."""
import sys, time, tempfile, hashlib, json, sqlite3
from pathlib import Path
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])
import orjson
from evalkit.records import Prompt, Message, GenerationParams, Request, ProviderResponse, Usage, Generation
from evalkit.model_spec import ModelSpec
from evalkit.cache import cache_key, ResponseCache
from evalkit.store import RunStore

def bench(name, fn, n=20000):
    fn(0)
    t = time.process_time()
    for i in range(n):
        fn(i)
    us = 1e6 * (time.process_time() - t) / n
    print(f"{us:8.2f} µs  {name}")
    return us

spec = ModelSpec(name="bench", provider="openai", model="bench-model", base_url="http://127.0.0.1:1/v1", concurrency=64)
params = GenerationParams(max_tokens=4, seed=0)
prompts = [Prompt(messages=(Message(role="system", content="Answer positive or negative."), Message(role="user", content=f"review {i}: the food was bad"))) for i in range(1000)]
reqs = [Request(prompt=prompts[i % 1000], params=params, sample_id=f"s{i}") for i in range(1000)]
resp = ProviderResponse(text="negative", usage=Usage(prompt_tokens=8, completion_tokens=1), finish_reason="stop")

bench("Request(...) construction (validated)", lambda i: Request(prompt=prompts[i % 1000], params=params, sample_id=f"s{i}"))
bench("Request.model_construct (no validation)", lambda i: Request.model_construct(prompt=prompts[i % 1000], params=params, sample_id=f"s{i}", attempt=0))
import inspect
if "identity" in inspect.signature(cache_key).parameters:  # since the provider seam (336a8af)
    key = lambda spec, r: cache_key(spec, r, {})
else:
    key = cache_key
bench("cache_key (today: model_dump x2 + json.dumps(sort_keys) + sha256)", lambda i: key(spec, reqs[i % 1000]))
static = json.dumps({"v": 1, "provider": spec.provider, "model": spec.model, "base_url": spec.base_url}, sort_keys=True)
def key_fast(i):
    r = reqs[i % 1000]
    h = hashlib.sha256(static.encode())
    h.update(orjson.dumps([r.prompt.model_dump(mode="json"), r.params.model_dump(mode="json"), r.attempt], option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()
bench("cache_key variant: static spec prefix + orjson(sorted) of prompt/params", key_fast)
def key_fast2(i):
    r = reqs[i % 1000]
    h = hashlib.sha256(static.encode())
    h.update(r.prompt.__pydantic_serializer__.to_json(r.prompt)); h.update(r.params.model_dump_json().encode()); h.update(b"%d" % r.attempt)
    return h.hexdigest()
bench("cache_key variant: prefix + pydantic to_json (NOT key-compatible)", key_fast2)

d = Path(tempfile.mkdtemp())
cache = ResponseCache(d / "a.sqlite")
bench("cache.put (today: INSERT OR REPLACE, autocommit, WAL, synchronous=NORMAL)", lambda i: cache.put(f"k{i}", resp, 0.01), 10000)
bench("cache.get hit (SELECT + ProviderResponse.model_validate_json)", lambda i: cache.get(f"k{i % 10000}"), 10000)
db = sqlite3.connect(str(d / "b.sqlite"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, latency_s REAL, created REAL DEFAULT (unixepoch('subsec')))")
buf = []
def put_batched(i):
    buf.append((f"k{i}", resp.model_dump_json(), 0.01))
    if len(buf) >= 64:
        db.execute("BEGIN"); db.executemany("INSERT OR REPLACE INTO responses (key, response, latency_s) VALUES (?, ?, ?)", buf); db.execute("COMMIT"); buf.clear()
bench("cache.put batched: 64 rows per transaction (executemany)", put_batched, 10000)

store = RunStore(d)
gen = Generation(sample_id="s1", model="bench", model_id="bench-model", attempt=0, prompt=prompts[0], output="negative", latency_s=0.01, usage=resp.usage, cost_usd=None, cached=False, retries=0)
bench("Generation(...) construction (validated)", lambda i: Generation(sample_id=f"s{i}", model="bench", model_id="bench-model", attempt=0, prompt=prompts[i % 1000], output="negative", latency_s=0.01, usage=resp.usage, cost_usd=None, cached=False, retries=0))
bench("store.append (model_dump_json + write + flush)", lambda i: store.append("generations.jsonl", gen))
fh = open(d / "g2.jsonl", "a")
bench("append without per-line flush (buffered)", lambda i: fh.write(gen.model_dump_json() + "\n"))
bench("ProviderResponse(...) construction", lambda i: ProviderResponse(text="negative", usage=Usage(prompt_tokens=8, completion_tokens=1), finish_reason="stop"))
body = orjson.dumps({"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "bench-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "negative"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}})
bench("json.loads response body", lambda i: json.loads(body))
bench("orjson.loads response body", lambda i: orjson.loads(body))
from openai.types.chat import ChatCompletion
bench("openai ChatCompletion.construct from dict (SDK's parse)", lambda i: ChatCompletion.construct(**json.loads(body)))
bench("ChatCompletion.model_validate_json (full validation)", lambda i: ChatCompletion.model_validate_json(body))
