"""Streamlit pieces shared by the chat and the other pages: the per-process retriever and
Markdown-safe text."""

from __future__ import annotations

import re
import threading

import streamlit as st

from assistant.config import Settings
from assistant.retrieval import Retriever

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def text(value: str) -> str:
    """Corpus or user text, escaped so Markdown shows it exactly as written."""
    return _MARKDOWN.sub(r"\\\1", value)


class Loader:
    """The retriever of this process, loading in the background so the page is usable at once.

    The constructor only checks that the index is current (a fraction of a second); the model,
    BM25 and Chroma load on a thread, and the first question waits for them if it must.
    """

    def __init__(self) -> None:
        from assistant.logs import configure

        settings = Settings.from_env()
        configure(settings)
        self.retriever = Retriever(settings)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="load-retriever", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            self.retriever.load()
        except BaseException as exc:  # reported to whoever asks first, never lost
            self.error = exc

    def ready(self) -> Retriever:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.retriever


@st.cache_resource(show_spinner=False)
def loader() -> Loader:
    """One per process, shared by every session."""
    return Loader()


def loader_or_stop() -> Loader:
    """The process's loader; a missing or stale index stops the page with the fixing command."""
    from assistant.errors import HcpcsError, UsageError

    try:
        return loader()
    except UsageError as exc:  # a bad HCPCS_* setting: the fix is the setting, not a build
        st.error(f"The app's settings are not valid: {text(str(exc))}")
        st.stop()
        raise
    except HcpcsError as exc:
        st.error(f"The codebook index cannot be used: {text(str(exc))}")
        st.code("hcpcs corpus fetch --mirror ../shared/corpus && hcpcs index build", language="sh")
        st.stop()
        raise  # st.stop() ends the run; this only satisfies type checkers
