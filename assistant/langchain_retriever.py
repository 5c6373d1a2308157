"""The hybrid retriever as a LangChain retriever, usable in any LangChain chain."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.retrieval import Filters, Retriever


class HcpcsRetriever(BaseRetriever):
    """Returns one Document per ranked code: the verbatim descriptor, with code and release."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    filters: Filters = Filters()
    k: int = 5
    mode: str = "hybrid"

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
