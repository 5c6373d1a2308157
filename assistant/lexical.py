"""BM25 over the index documents: rank-bm25's statistics, scored through an inverted index.

rank-bm25 computes the term statistics (idf with its epsilon floor); scoring walks only the
postings of the question's terms, so a question costs microseconds per matching document
instead of a pass over every document.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.text import tokenize, weighted_tokens


@dataclass
class Lexical:
    ids: list[str]
    idf: dict[str, float]
    postings: dict[str, list[tuple[int, int]]]  # term -> [(doc index, term frequency)]
    doc_len: list[int]
    avgdl: float
    terms: list[frozenset[str]]  # each document's distinct terms
    k1: float = 1.5
    b: float = 0.75

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> Lexical:
        from rank_bm25 import BM25Okapi

        tokens = [tokenize(t) or ["\x00empty"] for t in texts]
        bm25 = BM25Okapi(tokens)
        postings: dict[str, list[tuple[int, int]]] = {}
        for n, freqs in enumerate(bm25.doc_freqs):
            for term, tf in freqs.items():
                postings.setdefault(term, []).append((n, tf))
        terms = [frozenset(freqs) for freqs in bm25.doc_freqs]
        return cls(
            ids, dict(bm25.idf), postings, list(bm25.doc_len), bm25.avgdl, terms, bm25.k1, bm25.b
        )

    def scores(
        self, query_tokens: list[tuple[str, float]], allowed: set[int] | None = None
    ) -> dict[int, float]:
        """BM25 score of every document that shares a term with the query (terms weighted)."""
        out: dict[int, float] = {}
        k1, b, avgdl = self.k1, self.b, self.avgdl
        for term, weight in query_tokens:
            idf = self.idf.get(term)
            if idf is None:
                continue
            for n, tf in self.postings.get(term, ()):
                if allowed is not None and n not in allowed:
                    continue
                norm = tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.doc_len[n] / avgdl))
                out[n] = out.get(n, 0.0) + weight * idf * norm
        return out

    def top(
        self, query: str, k: int, allowed: set[int] | None = None, context: str = ""
    ) -> list[tuple[int, float]]:
        """The ``k`` best documents (index, score), ties broken by document order."""
        scored = self.scores(weighted_tokens(query, context), allowed)
        return sorted(scored.items(), key=lambda item: (-item[1], item[0]))[:k]
