"""The `llamacpp` provider: in-process GGUF inference with `llama-cpp-python`, optionally with a LoRA adapter.

`spec.model` is the alias `gemma3-270m` (the embedded base model, see evalkit.embedded_model) or a path to a
.gguf file; `spec.adapter` an optional GGUF LoRA adapter. The model is loaded on the first call. A llama
context is not thread-safe, so every call runs in a worker thread while holding one lock.

llama.cpp logs through a callback (loading details, `llama_kv_cache_iswa: ...`, `cannot use buft 'CPU_REPACK'`
for LoRA tensors): none of it is evalkit's to show, so every line goes to a log file (log_file(): the run
directory's `llama.log` once the runner calls set_log_file, else `llama.log` in the cache folder), and its path
appears only in the message of a load or generation that failed.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any

from evalkit.embedded_model import EMBEDDED_BASE_ALIAS, embedded_base_gguf
from evalkit.errors import ConfigError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers._http import label
from evalkit.providers.base import Provider, StreamChunk
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["LOG_FILE_ENV", "LlamaCppProvider", "log_file", "set_log_file"]

LOG_FILE_ENV = "EVALKIT_LLAMA_LOG"
"""Environment variable naming llama.cpp's log file when no run has set one (set_log_file wins over it)."""

_OPTIONS = {"n_ctx": int, "n_threads": int, "seed": int, "chat_format": str}
_NOT_IN_ANSWER = ("n_threads",)
"""Options that change speed, not answers: left out of the cache key."""
DEFAULT_N_CTX = 2048
_HASHED_UP_TO = 64 * 1024 * 1024
"""Files up to this size (adapters) are identified by content; bigger ones (weights) by name, size and mtime."""


def file_identity(path: Path) -> str:
    """Content hash of a small file (an adapter); name, size and mtime of a big one (multi-100 MB weights)."""
    st = path.stat()
    if st.st_size > _HASHED_UP_TO:
        return f"{path.name}:{st.st_size}:{int(st.st_mtime)}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------------------
# llama.cpp's log: to a file, never the console

_log_lock = threading.Lock()
_log_path: Path | None = None
_log_handle: tuple[Path, IO[bytes]] | None = None
_log_callback: Any = None
"""The installed ctypes callback; kept referenced for as long as llama.cpp may call it."""
_LOG_INFO, _LOG_CONT = 2, 5
"""ggml's log levels (ggml.h: 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line). Debug lines
(tokenizer tables, some 1,300 per model load) are left out of the file; the rest is what explains a failure."""
_last_level = _LOG_INFO


def set_log_file(path: Path | None) -> None:
    """Write llama.cpp's log lines to `path` (appended; created on the first line) from now on, e.g. the run
    directory's `llama.log`; None goes back to the default (log_file)."""
    global _log_path, _log_handle
    with _log_lock:
        _log_path = path
        if _log_handle is not None:
            _log_handle[1].close()
            _log_handle = None


def log_file() -> Path:
    """Where llama.cpp's log lines go now: set_log_file's path, else $EVALKIT_LLAMA_LOG, else `llama.log` in the
    cache folder ($EVALKIT_CACHE_DIR or ~/.cache/evalkit)."""
    if _log_path is not None:
        return _log_path
    from evalkit.cache import default_cache_dir

    return Path(os.environ.get(LOG_FILE_ENV) or default_cache_dir() / "llama.log")


def _write_log(text: bytes) -> None:
    global _log_handle
    with _log_lock:
        path = _log_path if _log_path is not None else log_file()
        if _log_handle is None or _log_handle[0] != path:
            if _log_handle is not None:
                _log_handle[1].close()
            path.parent.mkdir(parents=True, exist_ok=True)
            _log_handle = (path, path.open("ab"))
        _log_handle[1].write(text)
        _log_handle[1].flush()


def _route_log(llama_cpp: Any) -> None:
    """Replace llama-cpp-python's log callback (which prints to stderr: its level table is older than
    llama.cpp's, so warnings pass its `verbose=False` filter) with one that writes to log_file()."""
    global _log_callback
    with _log_lock:
        if _log_callback is not None:
            return

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            global _last_level
            try:
                _last_level = _last_level if level == _LOG_CONT else level
                if _last_level >= _LOG_INFO:
                    _write_log(text or b"")
            except Exception:  # noqa: BLE001, S110 - a C callback must not raise; a lost log line is acceptable
                pass

        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _log_callback = callback


def _with_log(message: str) -> str:
    """A failure message pointing at llama.cpp's own account of it."""
    return f"{message} (llama.cpp's log: {log_file()})"


class LlamaCppProvider(Provider):
    """Completion prompts → `create_completion`; chat → `create_chat_completion` (the GGUF's chat template).

    Options: `n_ctx` (default 2048), `n_threads` (default: all CPUs), `seed` (the context's default seed),
    `chat_format` (a llama-cpp-python chat format name, for GGUFs that carry no chat template).
    Abilities: offline, streaming, a slow warm-up (loading the weights), its log into the run directory. The
    cache key holds the weights' and the adapter's identity, so retraining an adapter never serves the old
    adapter's answers.
    """

    offline = True
    supports_streaming = True
    slow_warmup = True

    @classmethod
    def path_fields(cls, model: str) -> tuple[str, ...]:
        """`adapter` and `path`, and `model` when it names a .gguf file rather than the embedded alias."""
        return ("adapter", "path", "model") if model.endswith(".gguf") else ("adapter", "path")

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        for name, value in spec.options.items():
            if name not in _OPTIONS:
                raise ConfigError(f"{label(spec)}: unknown option {name!r} for provider 'llamacpp'; "
                                  f"allowed: {sorted(_OPTIONS)}")
            if name == "chat_format":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{label(spec)}: option 'chat_format' must be a format name, got {value!r}")
            elif not isinstance(value, int) or isinstance(value, bool) or (name != "seed" and value < 1):
                raise ConfigError(f"{label(spec)}: option {name!r} must be a positive integer, got {value!r}")
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python", f"{label(spec)} (provider 'llamacpp')") from exc
        self._llama_cpp = llama_cpp
        _route_log(llama_cpp)
        self.model_path = self._resolve_model(spec)
        self.adapter_path: Path | None = None
        if spec.adapter:
            self.adapter_path = Path(spec.adapter).expanduser()
            if not self.adapter_path.is_file():
                raise ConfigError(f"{label(spec)}: LoRA adapter {self.adapter_path} does not exist; "
                                  "`adapter` must be the path of a GGUF LoRA file")
        self._lock = threading.Lock()
        self._llm: Any = None
        self._identity = {
            "model_file": file_identity(self.model_path),
            "adapter": file_identity(self.adapter_path) if self.adapter_path is not None else "",
            "options": json.dumps({k: v for k, v in sorted(spec.options.items()) if k not in _NOT_IN_ANSWER}),
        }

    def cache_identity(self, request: Request) -> Mapping[str, str]:
        """The weights' and adapter's identity and the options that change answers (not the thread count)."""
        return self._identity

    @staticmethod
    def _resolve_model(spec: ModelSpec) -> Path:
        if spec.model == EMBEDDED_BASE_ALIAS:
            return embedded_base_gguf()
        path = Path(spec.model).expanduser()
        if not path.is_file():
            raise ConfigError(f"{label(spec)}: GGUF file {path} does not exist; `model` must be a path to a "
                              f".gguf file or the alias '{EMBEDDED_BASE_ALIAS}' (the embedded base model)")
        return path

    async def generate(self, request: Request) -> ProviderResponse:
        """One completion, run in a worker thread; deterministic local failures are not retryable."""
        return await asyncio.to_thread(self._generate_locked, request)

    async def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """One completion, token by token, generated in a worker thread while holding the model's lock.

        Usage is counted with the model's tokenizer (llama.cpp does not report it when streaming): completion
        tokens always; prompt tokens for completion-style prompts only (a chat prompt is formatted inside
        llama-cpp-python, out of reach), None otherwise. Stopping early (a timeout) stops the generation.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[StreamChunk | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def put(item: StreamChunk | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                stop.set()

        def produce() -> None:
            try:
                with self._lock:
                    self._stream_locked(request, put, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
                put(exc)
            finally:
                put(None)

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            if worker.done():
                worker.result()

    def _stream_locked(self, request: Request, put: Any, stop: threading.Event) -> None:
        llm = self._load()
        chat = request.prompt.is_chat
        parts: list[str] = []
        try:
            if chat:
                chunks = llm.create_chat_completion(**self._chat_kwargs(request, llm.chat_format), stream=True)
            else:
                chunks = llm.create_completion(**self._completion_kwargs(request), stream=True)
            for chunk in chunks:
                if stop.is_set():
                    break
                choice = chunk["choices"][0]
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                parts.append(text or "")
                put(StreamChunk(text=text or "", finish_reason=choice.get("finish_reason")))
        except Exception as exc:  # noqa: BLE001 - e.g. a prompt longer than n_ctx: retrying cannot help
            raise ProviderError(_with_log(f"{label(self.spec)}: llama.cpp generation failed: "
                                          f"{type(exc).__name__}: {exc}"), retryable=False) from exc
        completion = len(llm.tokenize("".join(parts).encode("utf-8"), add_bos=False, special=True))
        prompt = None
        if not chat:
            text = request.prompt.text or ""
            # What create_completion itself evaluates: the prompt with BOS, special tokens parsed.
            prompt = len(llm.tokenize(text.encode("utf-8"), special=True)) if text else 1
        put(StreamChunk(usage=Usage(prompt_tokens=prompt, completion_tokens=completion)))

    def log_into(self, run_dir: Path | None) -> None:
        """llama.cpp's log into the run directory's `llama.log` (None: back to log_file's default)."""
        set_log_file(run_dir / "llama.log" if run_dir is not None else None)

    async def warmup(self) -> None:
        """Load the model before the first call, so loading time is not counted as that call's latency."""
        await asyncio.to_thread(self._load_locked)

    def _load_locked(self) -> None:
        with self._lock:
            self._load()

    async def aclose(self) -> None:
        """Free the model (waits for a call in progress to finish)."""
        await asyncio.to_thread(self._unload)

    # -------------------------------------------------------------------------------------------------------

    def _load(self) -> Any:
        """The Llama instance, created on first use (caller holds the lock)."""
        if self._llm is None:
            opts = self.spec.options
            kwargs: dict[str, Any] = {
                "model_path": str(self.model_path),
                "n_ctx": opts.get("n_ctx", DEFAULT_N_CTX),
                "n_threads": opts.get("n_threads", os.cpu_count() or 1),
                "verbose": False,
            }
            for name in ("seed", "chat_format"):
                if name in opts:
                    kwargs[name] = opts[name]
            if self.adapter_path is not None:
                kwargs["lora_path"] = str(self.adapter_path)
            try:
                self._llm = self._llama_cpp.Llama(**kwargs)
            except Exception as exc:  # noqa: BLE001 - a corrupt file fails the same way every time
                what = f"{self.model_path}" + (f" with adapter {self.adapter_path}" if self.adapter_path else "")
                raise ProviderError(_with_log(f"{label(self.spec)}: llama.cpp could not load {what}: {exc}"),
                                    retryable=False) from exc
            metadata = self._llm.metadata or {}
            # Without a template in the GGUF, llama-cpp-python falls back to the llama-2 format, which a Gemma
            # model (the embedded base among them) does not understand: use Gemma's turn format instead.
            if ("chat_format" not in opts and "tokenizer.chat_template" not in metadata
                    and str(metadata.get("general.architecture", "")).startswith("gemma")):
                self._llm.chat_format = "gemma"
        return self._llm

    def _generate_locked(self, request: Request) -> ProviderResponse:
        with self._lock:
            llm = self._load()
            try:
                if request.prompt.is_chat:
                    result = llm.create_chat_completion(**self._chat_kwargs(request, llm.chat_format))
                    text = result["choices"][0]["message"].get("content")
                else:
                    result = llm.create_completion(**self._completion_kwargs(request))
                    text = result["choices"][0].get("text")
            except Exception as exc:  # noqa: BLE001 - e.g. a prompt longer than n_ctx: retrying cannot help
                raise ProviderError(_with_log(f"{label(self.spec)}: llama.cpp generation failed: "
                                              f"{type(exc).__name__}: {exc}"), retryable=False) from exc
        usage = result.get("usage") or {}
        return ProviderResponse(
            text=text or "",
            usage=Usage(prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens")),
            finish_reason=result["choices"][0].get("finish_reason"),
        )

    def _sampling_kwargs(self, request: Request) -> dict[str, Any]:
        params = request.params
        kwargs: dict[str, Any] = {"max_tokens": params.max_tokens, "temperature": params.temperature,
                                  "top_p": params.top_p, "stop": list(params.stop)}
        if params.seed is not None:
            kwargs["seed"] = params.seed
        return kwargs

    def _completion_kwargs(self, request: Request) -> dict[str, Any]:
        kwargs = self._sampling_kwargs(request)
        kwargs["prompt"] = request.prompt.text
        if request.params.json_schema is not None:
            # The chat API builds this grammar from response_format; the completion API takes it directly.
            kwargs["grammar"] = self._llama_cpp.LlamaGrammar.from_json_schema(
                json.dumps(request.params.json_schema), verbose=False)
        return kwargs

    def _chat_kwargs(self, request: Request, chat_format: str | None) -> dict[str, Any]:
        kwargs = self._sampling_kwargs(request)
        messages = [{"role": m.role, "content": m.content} for m in request.prompt.messages]
        kwargs["messages"] = _fold_system(messages) if chat_format == "gemma" else messages
        if request.params.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.params.json_schema}
        return kwargs

    def _unload(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Gemma has no system turn (llama-cpp-python's `gemma` format drops it): prepend it to the first user
    turn, as Gemma 3's own chat template does."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]
