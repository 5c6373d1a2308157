"""Quotations checked against the raw files they quote (assistant.corpus.quotes)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.corpus.guidance import parse_guidance
from assistant.corpus.quotes import SourceTexts, fold, quoted_in
from assistant.corpus.release import parse_release
from assistant.records import Citation
from tests.fixture_corpus import write_corpus

CFR = (
    "<!-- Source: https://www.ecfr.gov/ (provenance, not text) -->\r\n"
    "# 99 CFR § 123.45 Widget coding policies.\r\n\r\n"
    "(a) *General rule.* CMS establishes uniform national definitions of widgets, as\r\n"
    "described in [§ 123.40](/regulations/123-40) of this part.\r\n\r\n"
    "> (1) Widget supply policy (for example, supplies furnished with a widget).\r\n\r\n"
    "> > (i) Widgets.\r\n\r\n"
    "> > (ii) Gadgets.\r\n\r\n"
    "&#40;b) For the period on and after October 1, 2031, the code sets above.\r\n"
)


def _settings(root: Path) -> Settings:
    """The fixture corpus plus a Markdown regulation, in a manifest of their own."""
    mirror, manifest = write_corpus(root)
    (mirror / "guidance" / "99-cfr-123.45-widgets.md").write_bytes(CFR.encode("utf-8"))
    digest = hashlib.sha256(CFR.encode("utf-8")).hexdigest()
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + "\n".join(
            [
                "[[source]]",
                'id = "cfr-widgets"',
                'kind = "guidance"',
                'title = "99 CFR 123.45 Widget coding policies"',
                'citation = "99 CFR 123.45"',
                'file = "99-cfr-123.45-widgets.md"',
                'path = "guidance/99-cfr-123.45-widgets.md"',
                f'sha256 = "{digest}"',
                'url = "https://example.invalid/not-used"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return Settings.from_env({"HCPCS_CORPUS_DIR": str(mirror), "HCPCS_SOURCES": str(manifest)})


@pytest.fixture()
def texts(tmp_path: Path) -> SourceTexts:
    return SourceTexts(_settings(tmp_path))


def _passage_citation(passage, kind: str = "guidance") -> Citation:
    return Citation(kind, passage.title, passage.section, passage.text, ref=passage.source)


def test_fold_and_quoted_in_order():
    raw = fold("Alpha  beta\r\n\tgamma\n\ndelta epsilon")
    assert raw == "Alpha beta gamma delta epsilon"
    assert quoted_in("beta gamma\ndelta", raw)
    assert quoted_in("Alpha beta\n  gamma  ", raw)  # whitespace folded on both sides
    assert not quoted_in("delta\nbeta", raw)  # out of order
    assert not quoted_in("beta; gamma", raw)  # rebuilt
    assert not quoted_in("\n \n", raw)  # nothing quoted is no quotation


def test_descriptors_are_checked_against_the_fixed_width_file(texts: SourceTexts):
    def descriptor(code: str, text: str, release: str = "2099-01") -> Citation:
        return Citation("descriptor", f"CMS HCPCS {release}", code, text, ref=release)

    assert texts.check(descriptor("E0601", "Continuous positive airway pressure (cpap) device"))
    # A descriptor on two records of the file is one quotation.
    long = (
        "Long test descriptor that needs more than one line of the fixed width record to hold "
        "its words, continued on a second record line"
    )
    assert texts.check(descriptor("G0999", long))
    assert texts.check(
        descriptor("KX", "Requirements specified in the medical policy have been met")
    )
    assert not texts.check(descriptor("G0999", long.split(",")[0]))  # a part is not the whole
    assert not texts.check(descriptor("E0601", "Continuous positive airway pressure device"))
    assert not texts.check(
        descriptor(
            "E0562",
            "Humidifier, heated, used with positive airway pressure device",
            release="2098-01",
        )
    )  # not in 2098
    assert not texts.check(descriptor("E0601", "Continuous", release="1999-01"))  # no release


def test_markdown_paragraphs_quote_markers_links_and_emphasis(tmp_path: Path):
    settings = _settings(tmp_path)
    texts = SourceTexts(settings)
    path = settings.corpus_dir / "guidance" / "99-cfr-123.45-widgets.md"
    passages = parse_guidance(path, "cfr-widgets")
    assert passages[0].text == (
        "(a) *General rule.* CMS establishes uniform national definitions of widgets, as "
        "described in [§ 123.40](/regulations/123-40) of this part."
    )
    assert passages[1].text.splitlines() == [
        "> (1) Widget supply policy (for example, supplies furnished with a widget).",
        "> > (i) Widgets.",
        "> > (ii) Gadgets.",
    ]
    assert passages[2].text.startswith("(b) For the period")  # &#40; is "("
    for passage in passages:
        assert texts.check(_passage_citation(passage)), passage.text
    # The renderings the auditor found are not the file's words.
    stripped = "(a) General rule. CMS establishes uniform national definitions of widgets, as "
    assert not texts.check(
        Citation(
            "guidance", "t", "(a)", stripped + "described in § 123.40 of this part.", "cfr-widgets"
        )
    )
    assert not texts.check(
        Citation("guidance", "t", "(a)(1)", "> > (ii) Gadgets.\n> > (i) Widgets.", "cfr-widgets")
    )  # out of order


def test_record_layout_and_readme_members_of_a_release(tmp_path: Path, texts: SourceTexts):
    from assistant.corpus.loader import layout_passages

    mirror, _manifest = write_corpus(tmp_path / "again")
    release, _layout = parse_release(
        [mirror / "cms-hcpcs/2099-01/hcpcs-2099.zip"], "2099-01", date(2099, 1, 1)
    )
    passages = layout_passages(release)
    assert passages
    for passage in passages:
        assert texts.check(_passage_citation(passage, "record-layout")), passage.text
    coverage = next(p for p in passages if p.section == "HCPCS Coverage Code")
    rebuilt = "HCPCS Coverage Code: " + "; ".join(coverage.text.splitlines())
    assert not texts.check(
        Citation("record-layout", coverage.title, coverage.section, rebuilt, coverage.source)
    )
    # A layout no release of the manifest has, a guidance id the manifest lacks: not valid.
    for ref in ("hcpcs-2097-01-layout", "no-such-source", "hcpcs-2099-01-readme"):
        assert not texts.check(Citation("guidance", "t", "s", coverage.text, ref))


def test_kinds_no_file_can_confirm_are_not_valid(texts: SourceTexts):
    for kind in ("crosswalk", "drug-table"):
        assert not texts.check(Citation(kind, "t", "J2185", "Meropenem", "asp-crosswalk"))


# --- the real corpus ----------------------------------------------------------------------


@pytest.mark.integration
def test_every_real_passage_and_descriptor_is_the_sources_words(real_index):
    """What the index stores is what the raw files say: every passage of the corpus, line by
    line in order, and every descriptor of every release, whole."""
    from assistant.retrieval import Retriever

    settings, _ = real_index
    retriever = Retriever(settings).load()
    texts = SourceTexts(settings)
    passages = list(retriever.passage_by_id.values())
    assert len(passages) > 100
    kinds = {p.kind for p in passages}
    assert kinds == {"guidance", "record-layout"}
    bad = [p for p in passages if not texts.check(_passage_citation(p, p.kind))]
    assert not bad, [(p.source, p.section, p.text[:80]) for p in bad]
    records = retriever.book.all_codes()
    assert {r.release for r in records} == {"2019-01", "2020-01", "2025-01", "2026-01"}
    wrong = [
        (r.release, r.code)
        for r in records
        if not texts.check(
            Citation("descriptor", r.source_label, r.code, r.long_description, r.release)
        )
    ]
    assert not wrong, wrong[:10]
