"""Evidence before codes: whether the loaded CMS files explain a question well enough to name
a code at all.

A score threshold alone names codes for the weather or an invented drug (something always
ranks first). Instead the question's own words are accounted for: a word is explained when
the best candidates' texts (descriptors, Table of Drugs lines, crosswalk rows) or a glossary
entry contain it; words no loaded file contains at all are unknown. The decision:

- a code or modifier named in the question: evidence (the coder asked about it);
- a question that asks for another code set (ICD-10, CPT, NDC, DRG, revenue or place of
  service codes) and not for HCPCS: none, with the code set named;
- a question with no item in it, only the vocabulary of coverage, payment and products
  ("my rep says CMS assigned our product a code"): a policy question, answered from the
  guidance with no code;
- otherwise evidence when one of the best candidates' texts accounts for words of the
  question worth SPECIFIC (their idf summed: one rare word, or a few common ones, that name
  the item), or WHOLE of them (a drug name alone), and the embedding finds a candidate
  text at least SIMILAR to the question.
  Ordinary words that scattered descriptors happen to share ("how tall is mount everest")
  are not an item; context around an item ("78-year-old going home after hip surgery,
  ordered a heavy duty walker") does not hide it. A name no loaded file knows ("Humira
  40 mg": no Humira in the corpus, and "40 mg" alone names no drug) is excused only when the
  best text names a term of the trade the question also uses ("pantoprazole ... vial,
  reconstituted"), not when it shares only everyday words with it ("Humira pen").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

SIMILAR = 0.45  # cosine similarity the best candidate text must reach (the embedding's view)
# Past this many words, one mean-pooled vector no longer stands for the question (a pasted note,
# a phrase repeated to the model's window scores ~0.03 against the text it repeats): the words
# alone decide.
LONG_QUESTION = 64
SPECIFIC = 7.0  # idf weight of the question's words one candidate text must account for
WHOLE = 0.8  # or this share of all the question's words (a drug name alone: "bevacizumab")
HALF = 0.5  # or this share, when the best text names the question's most specific word
# ... or, beside a name no file knows, this much of the known words' weight in one text (a
# clinical word around a well-described item: "bariatric bedside commode, 450 lb, extra wide";
# a made-up name with "mg tablet" or "device rental" around it stays below).
KNOWN_ENOUGH = 8.0
TYPO_RATIO = 0.85  # an unknown word this close to a known one is read as that word

# Other code sets, asked for by name. HCPCS questions often mention them in passing, so a
# question that also says HCPCS (or names a Level II code) stays in scope.
_OTHER_CODE_SETS = (
    ("ICD-10", r"\bicd[- ]?(?:10|9)\b|\bdiagnosis codes?\b|\bdx codes?\b"),
    (
        "CPT",
        r"\bcpt\b|(?<![\w.,-])\d{5}(?![\w.,-])(?!\s*(?:units?|u|mg|mcg|ml|cc|i\.?u|lbs?))",
    ),
    (
        "NDC",
        r"\b(?:what|which)(?:'s| is| are)? (?:the |an? )?ndcs?\b|\bndcs? (?:number )?(?:for|of)\b",
    ),
    ("DRG", r"\b(?:ms-?)?drgs?\b"),
    ("revenue code", r"\brev(?:enue)? codes?\b|\bub-?04\b"),
    ("place of service", r"\bplace of service codes?\b|\bpos codes?\b|\bplace of service\b"),
    ("CDT", r"\bcdt\b|\bdental codes?\b"),
    ("LOINC", r"\bloinc\b"),
)
_OTHER_RES = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _OTHER_CODE_SETS]
_SAYS_HCPCS = re.compile(
    r"\bhcpcs\b|\blevel (?:ii|2)\b|\b[a-v]-?codes?\b|\bj-?codes?\b", re.IGNORECASE
)

# Words of coverage, payment, products and code assignment: a question made of these alone
# is about policy, not about an item.
# Words of the trade that name no item by themselves (routes, forms, packaging).
GENERIC_TRADE_WORDS = frozenset(
    """intravenous intramuscular subcutaneous intrathecal intradermal injection infusion
    oral tablet capsule dose vial syringe solution suspension unit units mg mcg ml""".split()
)
# Words that carry no item, however a question is phrased.
FUNCTION_WORDS = frozenset(
    """under over into onto via if then when while must may might just also still really
    actually sure ok okay yes please thanks thank hi hello know need want like think ask
    has have had having got gets doesn don isn aren wasn weren didn won shouldn wouldn
    couldn hasn haven ve ll re
    asking question answer help anyone someone something anything thing things way much
    many lot lots kind sort here there now today yet ever never always usually""".split()
)
POLICY_WORDS = frozenset(
    """medicare medicaid cms payer payers insurance insurer insurers plan plans cover covered
    covers coverage pay pays paid payment payments reimburse reimbursed reimbursement
    reimbursable bill billed billing claim claims deny denied denial rep reps sales
    salesperson manufacturer manufacturers vendor vendors company companies supplier
    suppliers consultant consultants product products brand brands branded device devices
    item items assign assigned assignment approve approved approval official legit true
    false guarantee guaranteed mean means meaning exist exists existence automatically
    right correct rule rules policy policies say says said tell told swear swears
    brochure website letter document documentation decide decides decided who whom whose
    responsible authority get getting apply application update updates updated often
    quarterly annual new own our their its your we they required require requires
    requirement hipaa standard standards maintain maintains maintained rely level ii
    difference different between category categories agnostic file files list lists
    listed set sets rely relied trust""".split()
)


# Numbers, units and code families written with x ("K08xx"): how much or which range,
# never what item.
_QUANTITY_WORD = re.compile(
    r"[\d.,/x-]+|\d+[a-z]{0,3}|mg|mcg|ml|cc|gram|unit|iu|pound|inch|square|each|per|dose|"
    r"[a-z]\d[\dx]{1,3}x|m2|kg|meq|vial|sdv|mdv"
)


@dataclass(frozen=True)
class Evidence:
    """Whether codes may be named, and why."""

    ok: bool
    reason: str  # named, explained, other-code-set, policy-only, unexplained, empty
    explained: float = 0.0  # share of the question's (idf-weighted) words the best text explains
    unknown: tuple[str, ...] = ()  # words no loaded file contains (typos aside)
    code_set: str = ""  # the other code set asked for


def other_code_set(question: str) -> str:
    """The non-HCPCS code set a question asks for ("" if none, or if it says HCPCS)."""
    if _SAYS_HCPCS.search(question):
        return ""
    for name, pattern in _OTHER_RES:
        if pattern.search(question):
            return name
    return ""


def judge(
    question_words: list[str],
    candidate_words: list[set[str]],
    idf: dict[str, float],
    vocabulary: dict[str, list[str]],
    named: bool,
    question: str,
    common_words: frozenset[str] = frozenset(),
    similarity: float = 1.0,
    shorthand: frozenset[str] | dict = frozenset(),
) -> Evidence:
    """The evidence for a question.

    ``question_words``: its content tokens (assistant.text.tokenize, negation marks off);
    ``candidate_words``: the tokens of each of the best candidates' texts, the words of the
    glossary terms the question uses included in each; ``idf``: token -> idf over every
    indexed text (a token missing from it is in no loaded file); ``vocabulary``: first letter
    -> the known tokens starting with it, for typos; ``common_words``: everyday English
    words (a word the files lack but English has, "ride", says little; an unknown name,
    "Humira", a lot); ``similarity``: the dense similarity of the best candidate text.
    """
    if named:
        return Evidence(True, "named", 1.0)
    code_set = other_code_set(question)
    if code_set:
        return Evidence(False, "other-code-set", code_set=code_set)
    # Numbers and units say how much, not what; a compound's parts are words of their own.
    words = [
        w
        for w in dict.fromkeys(question_words)
        if not _QUANTITY_WORD.fullmatch(w)
        and "-" not in w
        and "/" not in w
        and len(w) > 1
        and w not in FUNCTION_WORDS
    ]
    if not words:
        return Evidence(False, "empty")
    item_words = [w for w in words if w not in POLICY_WORDS]
    if not item_words:
        return Evidence(False, "policy-only")
    known: dict[str, str] = {}  # question word -> the indexed token it is (typos read through)
    unknown: list[str] = []
    for word in item_words:
        if word in idf or word in shorthand or any(word in w for w in candidate_words):
            known[word] = word
            continue
        close = (
            difflib.get_close_matches(word, vocabulary.get(word[0], ()), n=1, cutoff=TYPO_RATIO)
            if len(word) >= 5 and not any(c.isdigit() for c in word)
            else []
        )
        if close:
            known[word] = close[0]
        elif word not in common_words:
            unknown.append(word)
    top = max(idf.values()) if idf else 1.0
    weights = {token: idf.get(token, top) for token in known.values()}
    explained = [
        sum(weight for token, weight in weights.items() if token in words_)
        for words_ in candidate_words
    ]
    best = max(explained, default=0.0)
    total = sum(weights.values()) + top * len(unknown)
    share = round(best / total, 3) if total else 0.0
    # The question's most specific known word ("bortezomib"), named by the best text.
    rarest = max(weights, key=lambda t: (weights[t], t)) if weights else ""
    names_it = any(
        rarest in words_ and score == best
        for words_, score in zip(candidate_words, explained, strict=True)
    )
    if unknown:
        # A name no loaded file knows is excused when the best text names a term of the trade
        # the question also uses ("pantoprazole 40 mg IV, reconstituted"), or when the known
        # words describe the item well on their own (KNOWN_ENOUGH); everyday words around an
        # unknown name ("Humira 40 mg pen") name nothing.
        known_total = sum(weights.values())
        best_words = candidate_words[explained.index(best)] if explained else set()
        trade = [
            t
            for t in weights
            if t in best_words and t not in common_words and t not in GENERIC_TRADE_WORDS
        ]
        enough = (
            bool(trade) and known_total > 0 and best / known_total >= HALF
        ) or best >= KNOWN_ENOUGH
    else:
        enough = best >= SPECIFIC or share >= WHOLE or (names_it and share >= HALF)
    ok = enough and (similarity >= SIMILAR or len(question_words) > LONG_QUESTION)
    return Evidence(ok, "explained" if ok else "unexplained", share, tuple(unknown))
