"""Property tests for the question side: the question normaliser, the tokeniser and shorthand
expansion, code normalisation, and code detection in free text. No model, no index."""

from __future__ import annotations

import re
import threading
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.answer import MAX_QUESTION_CHARS, Conversation, Turn, clean_question, is_follow_up
from assistant.codebook import normalize_code
from assistant.errors import UsageError
from assistant.retrieval import Mention, Retriever
from assistant.text import (
    ABBREVIATIONS,
    NEGATION_SCOPE,
    NEGATIONS,
    STOPWORDS,
    expand,
    tokenize,
    weighted_tokens,
)

# No example database: nothing is written into the working tree, and every run is fresh.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# What clean_question takes out (each becomes a space): the C0 and C1 controls and DEL, and the
# invisible format characters (zero-width spaces and joiners, direction marks, embeddings,
# overrides and isolates, the byte-order mark). Tab and newline fold away as whitespace.
INVISIBLE = frozenset(
    chr(c)
    for c in [
        *range(0x20),
        *range(0x7F, 0xA0),
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0xFEFF,
    ]
)
SURROGATES = st.characters(categories=["Cs"])

# Anything a user might paste: all of Unicode, lone surrogates too (undecodable bytes smuggled
# in), heavy on controls, invisible characters and the many kinds of space, sometimes very long
# (up to 50,000 characters).
messy_char = st.one_of(
    st.characters(),
    st.sampled_from(sorted(INVISIBLE | set("\xa0\u2028\u2029\u3000\u200a\u2061 "))),
    SURROGATES,
)
messy = st.one_of(
    st.text(messy_char, max_size=300),
    st.builds(
        lambda piece, n: piece * n,
        st.text(messy_char, min_size=1, max_size=50),
        st.integers(1, 1000),
    ),
)


def _folded(question: str) -> str:
    """The question as clean_question reads it, before the cap: surrogates made U+FFFD,
    invisible characters made spaces, and whitespace runs made one space."""
    chars = ("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in question)
    return " ".join("".join(" " if c in INVISIBLE else c for c in chars).split())


# Questions whose folded length sits right at the cap: a long word up to about the limit, a
# separator, and more.
at_the_cap = st.builds(
    lambda n, sep, tail: "a" * n + sep + tail,
    st.integers(MAX_QUESTION_CHARS - 3, MAX_QUESTION_CHARS + 1),
    st.text(st.sampled_from(" \t\n\x00\x1f\x9b\xa0\u200b"), min_size=1, max_size=3),
    st.text(messy_char, min_size=1, max_size=20),
)


# ------------------------------------------------------------------------------ clean_question


@PROPERTY
@given(messy | at_the_cap)
@example("E0601\x9b31m in red?")  # U+009B: the 8-bit CSI, a terminal escape
@example("cpap\u202emask")  # a right-to-left override
@example("a" * (MAX_QUESTION_CHARS - 1) + " b")  # cut just after a word
def test_clean_question_keeps_visible_text_single_spaced_and_capped(question):
    text, remarks = clean_question(question)
    assert isinstance(text, str) and isinstance(remarks, list)
    assert not INVISIBLE & set(text)
    assert not [c for c in text if unicodedata.category(c) in ("Cc", "Cs")]
    text.encode("utf-8")  # no lone surrogate left to fail the tokenizer, a log or a socket
    assert all(c == " " or not c.isspace() for c in text)
    assert text == text.strip() and "  " not in text
    assert len(text) <= MAX_QUESTION_CHARS
    full = _folded(question)
    if len(full) <= MAX_QUESTION_CHARS:
        assert (text, remarks) == (full, [])
    else:
        # Answered on its beginning, and told so with both lengths.
        assert text == full[:MAX_QUESTION_CHARS].rstrip()
        assert len(remarks) == 1
        assert f"{len(full):,}" in remarks[0] and f"{MAX_QUESTION_CHARS:,}" in remarks[0]


@PROPERTY
@given(messy | at_the_cap)
@example("a" * (MAX_QUESTION_CHARS - 1) + " b")
def test_clean_question_is_idempotent(question):
    text, _remarks = clean_question(question)
    assert clean_question(text) == (text, [])


@PROPERTY
@given(messy, st.lists(st.text(max_size=5), max_size=3), st.text(max_size=80))
def test_follow_up_detection_never_raises_and_needs_earlier_codes(question, codes, rest):
    assert is_follow_up(question, Conversation()) is False
    without_codes = Conversation((Turn("earlier question", (), ""),))
    assert is_follow_up(question, without_codes) is False
    with_codes = Conversation((Turn("what is E0601?", ("E0601", *codes), "cpap"),))
    assert isinstance(is_follow_up(question, with_codes), bool)
    assert is_follow_up("what about " + rest, with_codes) is True


# ------------------------------------------------------------------------------ tokenize

# A token: (negated) lower-case ASCII letters and digits, pieces joined by . / or -.
TOKEN = re.compile(r"(?:no_)?[a-z0-9]+(?:[./-][a-z0-9]+)*")

# Plain content words: not shorthand, not stopwords, not negations or clause words, and not
# changed by the plural-stripper (no trailing s), so their tokens are the words themselves.
content_word = st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).filter(
    lambda w: (
        not w.endswith("s")
        and w not in ABBREVIATIONS
        and w not in STOPWORDS
        and w not in NEGATIONS
        and w not in ("but", "or", "than", "before", "after", "during", "following", "prior")
    )
)
content_words = st.lists(content_word, max_size=8)

# Question-like text: content words among the tokenizer's own vocabulary (negations,
# shorthand in any case, clause breaks, "other than", "for", compounds).
VOCABULARY = sorted(
    {*NEGATIONS, *ABBREVIATIONS, "other", "than", "but", "or", "for", "x-ray", "non-heated"}
    | {"heated", "wheels", "mattress", "batteries", "glasses", "CPAP", "W/O", "O2", "AFOs"}
    | {",", ";", "(", ")", "?", "-", "/"}
)
wordy = st.lists(st.sampled_from(VOCABULARY) | content_word, max_size=16).map(" ".join)
questions = messy | wordy


@PROPERTY
@given(questions, st.booleans())
def test_tokens_are_lowercase_ascii_words_and_deterministic(text, drop_stopwords):
    tokens = tokenize(text, drop_stopwords)
    assert isinstance(tokens, list)
    for token in tokens:
        assert isinstance(token, str) and TOKEN.fullmatch(token), token
    assert tokenize(text, drop_stopwords) == tokens


ascii_text = st.text(st.characters(codec="ascii"), max_size=200)


@PROPERTY
@given(ascii_text | wordy)
def test_ascii_tokens_ignore_case(text):
    assert tokenize(text.upper()) == tokenize(text) == tokenize(text.swapcase())


@PROPERTY
@given(questions, st.sampled_from(",;:()[]"), questions, st.booleans())
def test_negation_and_tokens_stay_inside_their_clause(left, separator, right, drop_stopwords):
    """Clauses tokenize independently: a negation never reaches past a comma or bracket."""
    joined = tokenize(left + separator + right, drop_stopwords)
    assert joined == tokenize(left, drop_stopwords) + tokenize(right, drop_stopwords)


@PROPERTY
@given(st.sampled_from([*sorted(NEGATIONS), "WITHOUT", "No", "W/O"]), content_words)
def test_a_negation_reaches_the_next_few_content_words(negation, words):
    tokens = tokenize(f"{negation} " + " ".join(words))
    scope = NEGATION_SCOPE
    assert tokens == ["without", *("no_" + w for w in words[:scope]), *words[scope:]]


@PROPERTY
@given(content_words, content_words, st.booleans())
def test_words_before_for_outweigh_words_after_it(item, used_with, upper):
    """The item named before "for" weighs 1.0, what it is used with 0.5 (unless also the item)."""
    question = " ".join(item) + (" FOR " if upper else " for ") + " ".join(used_with)
    weights = dict(weighted_tokens(question))
    for w in item:
        assert weights[w] == 1.0
    for w in used_with:
        assert weights[w] == (1.0 if w in item or not item else 0.5)
    assert set(weights) == set(item) | set(used_with)


@PROPERTY
@given(questions, questions)
def test_weighted_tokens_are_unique_and_cover_question_and_context(question, context):
    pairs = weighted_tokens(question, context)
    assert isinstance(pairs, list)
    tokens = [t for t, _w in pairs]
    assert len(tokens) == len(set(tokens))
    # Shorthand spelled out into n words gives each 1/n of its weight (1.0 or 0.5).
    assert all(isinstance(t, str) and 0 < w <= 1.0 for t, w in pairs)
    assert set(tokenize(context)) <= set(tokens)
    assert {t for t, w in pairs if w > 0.5} <= set(tokenize(question))
    if not re.search(r"\b(?:for|before|after|during|prior to|following)\b", question, re.I):
        assert set(tokens) == set(tokenize(question)) | set(tokenize(context))


# ------------------------------------------------------------------------------ expand


@PROPERTY
@given(questions)
def test_expand_never_raises(text):
    assert isinstance(expand(text), str)


spaces = st.text(st.sampled_from(" \t\n\xa0\u3000"), min_size=1, max_size=3)


@PROPERTY
@given(st.lists(st.tuples(content_word, spaces), max_size=8), spaces)
def test_expand_leaves_plain_words_and_folds_spaces(pairs, lead):
    text = lead + "".join(w + s for w, s in pairs)
    assert expand(text) == " ".join(w for w, _s in pairs)


# "sq." is left out: a trailing full stop is dropped before the look-up, so it reads as "sq"
# (subcutaneous) and never as "square" (reported, not tested here).
SHORTHAND = sorted(a for a in ABBREVIATIONS if a == a.strip(",.;:?!()"))


@PROPERTY
@given(
    content_words,
    st.sampled_from(SHORTHAND),
    st.sampled_from(["", "?", ",", ".", ")"]),
    content_words,
    st.booleans(),
)
def test_expand_spells_out_shorthand_in_any_case(left, abbreviation, punctuation, right, upper):
    if not abbreviation.isalnum():
        punctuation = ""  # "w/o", "add'l", "sq.": spelled as they stand
    typed = (abbreviation.upper() if upper else abbreviation) + punctuation
    text = " ".join([*left, typed, *right])
    assert expand(text) == " ".join([*left, ABBREVIATIONS[abbreviation], *right])


# ------------------------------------------------------------------------------ codes in text

# Level II codes: a letter A-V (the sections CMS uses) and four digits.
code_strings = st.builds(
    "{}{:04d}".format, st.sampled_from("ABCDEFGHIJKLMNOPQRSTUV"), st.integers(0, 9999)
)
modifier_strings = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2)


def _random_case(code: str, flips: list[bool]) -> str:
    return "".join(c.lower() if f else c for c, f in zip(code, flips[: len(code)], strict=True))


@PROPERTY
@given(
    code_strings | modifier_strings,
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.text(" \t", max_size=2),
    st.text("-", max_size=2),
    st.text(" \t\n", max_size=3),
)
def test_normalize_code_reads_any_case_dashes_and_blanks(code, flips, blanks, dashes, after):
    kind = "code" if len(code) == 5 else "modifier"
    typed = blanks + dashes + _random_case(code, flips) + after
    assert normalize_code(typed) == (code, kind)
    assert normalize_code(code) == (code, kind)


@PROPERTY
@given(messy)
def test_normalize_code_returns_a_code_or_raises_usage_error(text):
    try:
        code, kind = normalize_code(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert kind in ("code", "modifier")
    assert len(code) == (5 if kind == "code" else 2) and code == code.upper()
    assert normalize_code(code) == (code, kind)  # what it returns, it reads back unchanged


def _retriever_knowing(codes: set[str], modifiers: set[str]) -> Retriever:
    """A Retriever with only the code tables that ``mentions`` reads: no index, no model.

    ``load()`` is marked done; ``code_keys`` and ``known_modifiers`` are what it would read from
    the record store.
    """
    retriever = Retriever.__new__(Retriever)
    retriever._lock = threading.Lock()
    retriever._loaded = True
    retriever.code_keys = frozenset(
        {("code", c) for c in codes} | {("modifier", m) for m in modifiers}
    )
    retriever.known_modifiers = set(modifiers)
    return retriever


@PROPERTY
@given(
    st.sets(code_strings, min_size=1, max_size=5),
    st.sets(modifier_strings, max_size=3),
    st.data(),
)
def test_a_known_code_named_anywhere_in_a_question_is_detected(codes, modifiers, data):
    retriever = _retriever_knowing(codes, modifiers)
    code = data.draw(st.sampled_from(sorted(codes)))
    typed = data.draw(st.sampled_from([code, code.lower()]))
    before = data.draw(st.text(messy_char, max_size=200))
    after = data.draw(st.text(messy_char, max_size=200))
    question, _remarks = clean_question(f"{before} {typed} {after}")
    found = retriever.mentions(question)
    assert Mention(code, "code") in found
    assert len(found) == len(set(found))
    for mention in found:
        assert mention.code in (codes if mention.kind == "code" else modifiers)
    if modifiers:
        modifier = data.draw(st.sampled_from(sorted(modifiers)))
        with_modifier = retriever.mentions(f"{question} with modifier {modifier} {after}")
        assert Mention(modifier, "modifier") in with_modifier


@PROPERTY
@given(st.sets(code_strings, max_size=5), st.sets(modifier_strings, max_size=3), messy)
def test_mentions_never_raise_and_name_only_known_codes(codes, modifiers, question):
    found = _retriever_knowing(codes, modifiers).mentions(question)
    assert all(isinstance(m, Mention) for m in found)
    assert {m.code for m in found if m.kind == "code"} <= codes
    assert {m.code for m in found if m.kind == "modifier"} <= modifiers


def test_which_one_is_a_follow_up():
    with_codes = Conversation((Turn("hydrocolloid dressing, bordered", ("A6237",), "dressing"),))
    for question in ("which one without the border?", "and the other one, non-sterile?"):
        assert is_follow_up(question, with_codes) is True
    assert is_follow_up("gel overlay, non-powered", with_codes) is False
