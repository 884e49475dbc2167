"""Content-addressed response cache in SQLite: the same call is never made twice.

The key hashes everything that determines a response (provider, model id, endpoint, prompt, sampling
parameters, attempt number, and the provider's own cache identity: adapter content, a predictions file's
hash, ...), so a re-run of the same command makes zero model calls, and a run killed midway resumes from what
it had finished. Each entry is committed as soon as its call returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request

CACHE_VERSION = 2


def default_cache_dir() -> Path:
    """$EVALKIT_CACHE_DIR, else ~/.cache/evalkit."""
    env = os.environ.get("EVALKIT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "evalkit"


def cache_key(spec: ModelSpec, request: Request, identity: Mapping[str, str]) -> str:
    """The content address of one call.

    `identity` is the provider's `cache_identity(request)`: what besides the request makes the answer unique.
    The sample id is part of the key only through it (two samples with the same prompt share an answer,
    unless the provider says otherwise, as replay does).
    """
    payload: dict[str, Any] = {
        "v": CACHE_VERSION,
        "provider": spec.provider,
        "model": spec.model,
        "base_url": spec.base_url,
        "identity": dict(sorted(identity.items())),
        "prompt": request.prompt.model_dump(mode="json"),
        "params": request.params.model_dump(mode="json"),
        "attempt": request.attempt,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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

    @classmethod
    def in_dir(cls, directory: Path | None = None) -> ResponseCache:
        """The cache file `responses.sqlite` in `directory` (default: default_cache_dir())."""
        return cls((directory or default_cache_dir()) / "responses.sqlite")

    def get(self, key: str) -> tuple[ProviderResponse, float | None] | None:
        """The stored response and its original latency, or None."""
        with self._lock:
            row = self._db.execute("SELECT response, latency_s FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return ProviderResponse.model_validate_json(row[0]), row[1]

    def put(self, key: str, response: ProviderResponse, latency_s: float | None) -> None:
        """Store a response (committed at once)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses (key, response, latency_s) VALUES (?, ?, ?)",
                             (key, response.model_dump_json(), latency_s))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
