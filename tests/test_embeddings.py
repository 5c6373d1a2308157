"""The packaged model's identity, read without loading it."""

from __future__ import annotations

from importlib import metadata

from assistant.config import DEFAULT_MODEL
from assistant.embeddings import PackagedModelEmbedder, installed_version


def test_the_model_version_is_read_once_per_process(monkeypatch):
    """A later read must not depend on sys.path at that moment (Streamlit changes it while a
    script runs, and the app's loader reads from another thread)."""
    first = installed_version(DEFAULT_MODEL)
    assert first == metadata.version(DEFAULT_MODEL)

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert installed_version(DEFAULT_MODEL) == first
    assert PackagedModelEmbedder().version == first  # no model is loaded by the constructor
