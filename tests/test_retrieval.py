"""The hybrid retriever and the answer composer on the fixture corpus (deterministic embedder)."""

from __future__ import annotations

from datetime import date

import pytest

from assistant import store
from assistant.answer import AskOptions, Conversation, ask, clean_question
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import UsageError
from assistant.langchain_retriever import HcpcsRetriever
from assistant.retrieval import Filters, Retriever
from tests.fixture_corpus import fixture_env


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    settings = Settings.from_env(fixture_env(tmp_path_factory.mktemp("retrieval")))
    store.build_index(settings, embedder=HashEmbedder())
    return Retriever(settings, embedder=HashEmbedder()).load()


def codes(result) -> list[str]:
    return [h.record.code for h in result.hits]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what does E0601 mean?", [("E0601", "code")]),
        ("e0601 and E0562", [("E0601", "code"), ("E0562", "code")]),
        ("when do I use modifier KX", [("KX", "modifier")]),
        ("is -KX needed here", [("KX", "modifier")]),
        ("kx modifier", [("KX", "modifier")]),
        ("what does KX mean?", [("KX", "modifier")]),
        ("IV bag of saline, KX per the policy, for home infusion use", []),
        ("E9999 is not a real code", []),
        ("is it ok to bill", []),
    ],
)
def test_mentions(retriever: Retriever, question, expected):
    assert [(m.code, m.kind) for m in retriever.mentions(question)] == expected


def test_exact_code_ranks_first_in_every_mode_that_reads_words(retriever: Retriever):
    assert codes(retriever.search("what is E0194?"))[0] == "E0194"
    assert codes(retriever.search("cpap w/ heated humidifier", mode="bm25"))[0] == "E0562"


def test_shorthand_meets_descriptor(retriever: Retriever):
    assert codes(retriever.search("CPAP machine", mode="bm25"))[0] == "E0601"


def test_filters(retriever: Retriever):
    assert "A4397" not in codes(retriever.search("irrigation sleeve", Filters(status="active")))
    assert codes(retriever.search("irrigation sleeve", Filters(status="terminated")))[0] == "A4397"
    assert set(codes(retriever.search("humidifier device", Filters(sections=("A",))))) <= {"A4397"}
    modifiers = retriever.search("requirements met", Filters(kinds=("modifier",)))
    assert [h.record.kind for h in modifiers.hits] == ["modifier"]
    older = retriever.search("airway pressure device", Filters(release="2098-01"))
    assert older.release == "2098-01" and "E0562" not in codes(older)
    by_date = retriever.search("airway pressure device", Filters(date_of_service=date(1990, 6, 1)))
    assert by_date.release == "2099-01"
    # E0601 was added in 1988, E0562 in 2000: on a 1990 date only the first was valid.
    assert codes(by_date)[0] == "E0601"
    with pytest.raises(UsageError, match="unknown release"):
        retriever.search("x", Filters(release="1900-01"))
    with pytest.raises(UsageError):
        Filters(status="maybe")
    with pytest.raises(UsageError):
        retriever.search("x", mode="magic")


def test_terminated_code_is_weighed_down_unless_the_date_is_before_termination(
    retriever: Retriever,
):
    def score(filters: Filters) -> float:
        hits = retriever.search("irrigation supply sleeve", filters).hits
        return next(h.score for h in hits if h.record.code == "A4397")

    today = score(Filters())
    in_2021 = score(Filters(date_of_service=date(2021, 6, 1)))
    assert today < in_2021


def test_answer_names_code_quotes_descriptor_and_cites_coverage(retriever: Retriever):
    answer, _ = ask(retriever, "what is E0601?")
    assert answer.codes[0].code == "E0601"
    assert '"Continuous positive airway pressure (cpap) device"' in answer.text
    assert "CMS HCPCS 2099-01" in answer.text
    assert "coverage" in answer.notice_ids
    assert any("does not, of itself, determine coverage" in c.text for c in answer.citations)
    assert any(
        c.kind == "descriptor" and c.ref == "2099-01" and c.locator == "E0601"
        for c in answer.citations
    )
    coverage = answer.notices_of("coverage")[0]
    assert coverage.codes == ("E0601",)
    assert all(c.kind == "guidance" for c in answer.citations if c.supports == "coverage")


def test_terminated_and_date_of_service(retriever: Retriever):
    answer, _ = ask(retriever, "is A4397 still valid?")
    assert "terminated" in answer.notice_ids
    assert "terminated on 2021-12-31" in answer.text
    assert answer.notices_of("terminated")[0].codes == ("A4397",)
    later = AskOptions(filters=Filters(date_of_service=date(2099, 3, 1)))
    answer, _ = ask(retriever, "A4397", options=later)
    assert "not valid for a date of service of 2099-03-01" in answer.text


def test_noc_label(retriever: Retriever):
    answer, _ = ask(retriever, "E1399")
    assert "noc" in answer.notice_ids and "Not otherwise classified" in answer.text


def test_product_agnostic_notice(retriever: Retriever):
    answer, _ = ask(retriever, "the manufacturer rep says CMS assigned our device code E0601")
    assert "product-agnostic" in answer.notice_ids
    assert any("product-agnostic" in c.text for c in answer.citations)


def test_no_evidence_names_no_code(retriever: Retriever):
    answer, _ = ask(retriever, "qwxz zzkj")
    assert answer.notice_ids == ("no-evidence",)
    assert answer.codes == ()


def test_follow_up_uses_the_previous_turn(retriever: Retriever):
    first, convo = ask(retriever, "cpap device")
    assert first.codes[0].code == "E0601"
    second, convo = ask(retriever, "what about the heated humidifier for it?", convo)
    assert second.codes[0].code == "E0562"
    assert len(convo.turns) == 2
    # The same words with no history are answered on their own.
    alone, _ = ask(retriever, "what about the heated humidifier for it?", Conversation())
    assert "follow-up" not in alone.text


def test_question_cleaning():
    text, remarks = clean_question("  cpap\x00\x1b machine \n\t ")
    assert text == "cpap machine" and remarks == []
    text, remarks = clean_question("x" * 400_000)
    assert len(text) == 2000 and "first 2,000" in remarks[0]


def test_empty_question_is_a_usage_error(retriever: Retriever):
    with pytest.raises(UsageError, match="empty"):
        ask(retriever, " \x00 \n")


def test_langchain_retriever(retriever: Retriever):
    lc = HcpcsRetriever(retriever=retriever, k=3)
    docs = lc.invoke("heated humidifier for positive airway pressure")
    assert docs[0].metadata["code"] == "E0562"
    assert docs[0].page_content == "Humidifier, heated, used with positive airway pressure device"
    assert docs[0].metadata["source"] == "CMS HCPCS 2099-01"


def test_a_slip_of_the_keyboard_is_read_as_the_word_it_misses(retriever: Retriever):
    # dropped letters and swapped letters are read as the indexed word...
    assert retriever.spelled("heated humidifer") == "heated humidifier"
    assert retriever.spelled("heated humdiifier") == "heated humidifier"
    assert codes(retriever.search("humidifer, heated"))[0] == "E0562"
    # ... a word one letter away from another may be another name, and is left alone
    assert retriever.spelled("humidifiar") == "humidifiar"
    # as are known words, everyday English and short words
    assert retriever.spelled("Humidifier for the CPAP") == "Humidifier for the CPAP"
    assert retriever.spelled("humid bed") == "humid bed"
