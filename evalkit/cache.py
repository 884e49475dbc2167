"""Content-addressed response cache in SQLite: the same call is never made twice.

The key hashes everything that determines a response (provider, model id, endpoint, prompt, sampling
parameters, attempt number, and the provider's own cache identity: adapter content, a predictions file's
hash, ...), so a re-run of the same command makes zero model calls, and a run killed midway resumes from what
it had finished.

Writes from the event loop (`write`) are group-committed: every answer that arrives in the same turn of the
loop goes into one transaction, committed on the next turn, and each writer resumes only once its row is
committed. A call is "completed" (its Generation returned, then written to generations.jsonl by the runner)
only after its answer is durable here, so a killed run loses at most the calls in flight, as before, while
the commit cost is shared by all the answers of a turn (one autocommitted INSERT per call was ~45 µs of CPU
per call at 64 in flight, benchmarks/perf/profiles).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from evalkit.model_spec import ModelSpec
from evalkit.records import GenerationParams, Message, Prompt, ProviderResponse, Request

CACHE_VERSION = 2

_SELECT_MANY = 500
"""Keys per `SELECT ... WHERE key IN (...)` of get_many (well under SQLite's variable limit)."""
_INSERT = "INSERT OR REPLACE INTO responses (key, response, latency_s) VALUES (?, ?, ?)"

# json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")) builds exactly this encoder per call.
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
# The key's JSON for a prompt is spelled out from its fields (5x cheaper than model_dump + json.dumps) only
# while the records have exactly the fields it spells: a field added to Prompt or Message falls back to the
# generic path, so it can never be silently left out of the key.
_PLAIN_RECORDS = (set(Prompt.model_fields) == {"messages", "text"}
                  and set(Message.model_fields) == {"role", "content"})
_params_json: dict[int, tuple[GenerationParams, str]] = {}
"""The key's JSON of recently used GenerationParams, by object (records are frozen; a run shares one)."""
_identity_json: dict[tuple[tuple[str, str], ...], str] = {}
"""The key's JSON of recently seen provider identities, by content (a provider usually returns one)."""
_string = json.encoder.encode_basestring  # what the encoder above writes for a str (ensure_ascii=False)
_ROLES = {role: _string(role) for role in ("system", "user", "assistant", "tool")}


def default_cache_dir() -> Path:
    """$EVALKIT_CACHE_DIR, else ~/.cache/evalkit."""
    env = os.environ.get("EVALKIT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "evalkit"


def cache_key(spec: ModelSpec, request: Request, identity: Mapping[str, str]) -> str:
    """The content address of one call.

    `identity` is the provider's `cache_identity(request)`: what besides the request makes the answer unique.
    The sample id is part of the key only through it (two samples with the same prompt share an answer,
    unless the provider says otherwise, as replay does).

    The digest is of `json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))` with
    payload {v, provider, model, base_url, identity, prompt, params, attempt} (the prompt and parameters as
    `model_dump(mode="json")`); it is assembled here from pieces that give exactly those bytes, so keys are
    the ones CACHE_VERSION 2 always had (tests/test_cache.py compares with the plain construction).
    """
    attempt = request.attempt
    blob = "".join(('{"attempt":', str(attempt) if type(attempt) is int else _encode(attempt),
                    ',"base_url":', _encode(spec.base_url),
                    ',"identity":', _identity(identity),
                    ',"model":', _encode(spec.model),
                    ',"params":', _params(request.params),
                    ',"prompt":', _prompt(request.prompt),
                    ',"provider":', _encode(spec.provider),
                    ',"v":', str(CACHE_VERSION), "}"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _params(params: GenerationParams) -> str:
    hit = _params_json.get(id(params))
    if hit is not None and hit[0] is params:
        return hit[1]
    text = _encode(params.model_dump(mode="json"))
    if len(_params_json) >= 256:  # sampled attempts get a seed each: keep only the recent ones
        _params_json.clear()
    _params_json[id(params)] = (params, text)
    return text


def _identity(identity: Mapping[str, str]) -> str:
    items = tuple(identity.items())
    text = _identity_json.get(items)
    if text is None:
        text = _encode(dict(items))
        if len(_identity_json) >= 256:  # per-sample identities (replay): keep only the recent ones
            _identity_json.clear()
        _identity_json[items] = text
    return text


def _prompt(prompt: Prompt) -> str:
    if not _PLAIN_RECORDS or type(prompt) is not Prompt:
        return _encode(prompt.model_dump(mode="json"))
    parts = ['{"messages":[']
    for i, m in enumerate(prompt.messages):
        if type(m) is not Message:
            return _encode(prompt.model_dump(mode="json"))
        role = _ROLES.get(m.role) or _encode(m.role)
        parts.append(('{"content":' if i == 0 else ',{"content":') + _string(m.content) + ',"role":' + role + "}")
    parts.append('],"text":')
    parts.append("null" if prompt.text is None else _string(prompt.text))
    parts.append("}")
    return "".join(parts)


class ResponseCache:
    """A SQLite file of key -> (response, latency). Safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        # WAL survives a killed process with every committed entry intact and lets readers run alongside.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL,"
                         " latency_s REAL, created REAL DEFAULT (unixepoch('subsec')))")
        self._pending: dict[str, tuple[str, str, float | None]] = {}
        """Rows written but not committed yet (readable by get), by key."""
        self._waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False

    @classmethod
    def in_dir(cls, directory: Path | None = None) -> ResponseCache:
        """The cache file `responses.sqlite` in `directory` (default: default_cache_dir())."""
        return cls((directory or default_cache_dir()) / "responses.sqlite")

    def get(self, key: str) -> tuple[ProviderResponse, float | None] | None:
        """The stored response and its original latency, or None."""
        with self._lock:
            pending = self._pending.get(key)
            row = (pending[1], pending[2]) if pending is not None else self._db.execute(
                "SELECT response, latency_s FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return ProviderResponse.model_validate_json(row[0]), row[1]

    def has(self, key: str) -> bool:
        """True when `key` is cached (no response is read or parsed)."""
        with self._lock:
            return key in self._pending or self._db.execute(
                "SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def get_many(self, keys: Iterable[str]) -> dict[str, tuple[ProviderResponse, float | None]]:
        """The stored responses of those `keys` that are cached (a missing key is absent from the result),
        in a few SELECTs instead of one per key."""
        wanted = list(dict.fromkeys(keys))
        rows: dict[str, tuple[str, float | None]] = {}
        with self._lock:
            for key in wanted:
                pending = self._pending.get(key)
                if pending is not None:
                    rows[key] = (pending[1], pending[2])
            rest = [k for k in wanted if k not in rows]
            for start in range(0, len(rest), _SELECT_MANY):
                chunk = rest[start:start + _SELECT_MANY]
                marks = ",".join("?" * len(chunk))
                for key, response, latency in self._db.execute(
                        f"SELECT key, response, latency_s FROM responses WHERE key IN ({marks})", chunk):
                    rows[key] = (response, latency)
        validate = ProviderResponse.model_validate_json
        return {k: (validate(r[0]), r[1]) for k, r in rows.items()}

    def put(self, key: str, response: ProviderResponse, latency_s: float | None) -> None:
        """Store a response, committed at once (outside the event loop's group commit)."""
        with self._lock:
            self._db.execute(_INSERT, (key, response.model_dump_json(), latency_s))

    async def write(self, key: str, response: ProviderResponse, latency_s: float | None) -> None:
        """Store a response; returns once it is committed, in one transaction with every other `write` of the
        same turn of the event loop. A writer cancelled while it waits leaves its row to be committed anyway."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._pending[key] = (key, response.model_dump_json(), latency_s)
            self._waiters.append(waiter)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush_turn)
        await waiter

    def _flush_turn(self) -> None:
        with self._lock:
            self._flush_scheduled = False
            waiters, self._waiters = self._waiters, []
            try:
                self._commit_pending()
            except Exception as exc:  # noqa: BLE001 - each writer sees the failure (e.g. a full disk)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _commit_pending(self) -> None:
        """Commit the pending rows in one transaction (call with the lock held)."""
        if not self._pending:
            return
        rows = list(self._pending.values())
        self._db.execute("BEGIN")
        try:
            self._db.executemany(_INSERT, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def __len__(self) -> int:
        with self._lock:
            self._commit_pending()
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Commit what is pending (answers whose writers were cancelled mid-commit) and close the database."""
        with self._lock:
            try:
                self._commit_pending()
            finally:
                self._db.close()
