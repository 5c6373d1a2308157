"""The hybrid retriever as a LangChain component: a ``BaseRetriever`` for any LangChain chain.

``HcpcsRetriever`` is a public, documented part of the project. It answers a query with one
``Document`` per ranked code or modifier: ``page_content`` is the descriptor quoted verbatim
from its CMS release, ``metadata`` says where it comes from (see the class). It is a Runnable,
so it composes with LCEL (``retriever | RunnableLambda(...)``); the README shows a chain that
the tests run. It retrieves and ranks only: the cited answer with its notices (coverage,
product-agnostic, terminated, NOC) is ``assistant.answer.ask``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.config import Settings
from assistant.retrieval import Filters, Retriever


class HcpcsRetriever(BaseRetriever):
    """The project's retriever (exact codes, BM25 and dense search fused) as a LangChain one.

    Fields: ``retriever`` (a loaded ``assistant.retrieval.Retriever``), ``filters`` (release,
    date of service, status, sections), ``k`` (how many documents) and ``mode`` (``hybrid``,
    ``bm25`` or ``dense``). Each Document's metadata: ``code``, ``kind`` (code or modifier),
    ``release``, ``source`` ("CMS HCPCS 2026-01"), ``status``, ``termination_date`` (ISO date
    or None), ``score`` and ``via`` (which searches found it).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    filters: Filters = Filters()
    k: int = 5
    mode: str = "hybrid"

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> HcpcsRetriever:
        """Over the current index of ``settings`` (default: the HCPCS_* environment), loaded
        now; a missing or stale index raises IndexMissingError or IndexStaleError."""
        loaded = Retriever(settings or Settings.from_env()).load()
        return cls(retriever=loaded, **fields)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.retriever.search(query, self.filters, k=self.k, mode=self.mode)
        docs = []
        for hit in result.hits:
            rec = hit.record
            meta: dict[str, Any] = {
                "code": rec.code,
                "kind": rec.kind,
                "release": rec.release,
                "source": rec.source_label,
                "status": rec.status,
                "termination_date": rec.termination_date.isoformat()
                if rec.termination_date
                else None,
                "score": hit.score,
                "via": list(hit.via),
            }
            docs.append(Document(page_content=rec.long_description, metadata=meta))
        return docs
