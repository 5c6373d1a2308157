"""Candidates compared: how sibling codes differ, and the question to ask when the coder's
question does not say.

CMS writes sibling descriptors as the same item followed by the parts that separate them
("Hospital bed, semi-electric (head and foot adjustment), with any type side rails, with
mattress" / "..., without mattress"). The parts one sibling has and the other lacks are the
difference, quoted from the descriptors. When the question stated none of them (the second
ranking stage found nothing it satisfies or contradicts between the two), the answer asks.
"""

from __future__ import annotations

import re

from assistant.records import CodeRecord, Difference
from assistant.text import tokenize

SIBLING_WORDS = 0.7  # share of descriptor words two codes must have in common to be siblings
CLOSE = 0.85  # a runner-up scoring at least this share of the best's is a real alternative
MAX_COMPARED = 3  # the best match and up to two siblings after it
MAX_PARTS = 2  # parts one sibling may have that the other lacks (more: another item, not a choice)


def segments(descriptor: str) -> list[str]:
    """A descriptor's parts, split at commas and semicolons outside parentheses."""
    parts, depth, current = [], 0, []
    for char in descriptor:
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char in ",;" and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _key(segment: str) -> str:
    return " ".join(re.sub(r"[^\w\s<>=.-]", " ", segment.casefold()).split())


def siblings(best: CodeRecord, others: list[CodeRecord]) -> list[CodeRecord]:
    """The candidates after the best that describe the same item with other parts."""
    mine = set(tokenize(best.long_description))
    out = []
    for other in others:
        if other.kind != best.kind or other.code[0] != best.code[0]:
            continue
        theirs = set(tokenize(other.long_description))
        union = mine | theirs
        same_item = _key(segments(other.long_description)[0]) == _key(
            segments(best.long_description)[0]
        )
        if not union or not (same_item or len(mine & theirs) / len(union) >= SIBLING_WORDS):
            continue
        if max(len(difference(other, best).phrases), len(difference(best, other).phrases)) > (
            MAX_PARTS
        ):
            continue
        out.append(other)
    return out


def difference(record: CodeRecord, against: CodeRecord) -> Difference:
    theirs = {_key(s) for s in segments(against.long_description)}
    phrases = tuple(s for s in segments(record.long_description) if _key(s) not in theirs)
    return Difference(record.code, phrases, against.code)


def compare(shown: list[CodeRecord]) -> tuple[Difference, ...]:
    """Differences among the best match and its siblings among the codes shown."""
    if len(shown) < 2:
        return ()
    best = shown[0]
    close = siblings(best, shown[1:])[: MAX_COMPARED - 1]
    if not close:
        return ()
    out = [difference(best, close[0])]
    out += [difference(other, best) for other in close]
    return tuple(d for d in out if d.phrases)


def undecided(
    differences: tuple[Difference, ...],
    matches: dict,
    best: CodeRecord,
    question: str,
    scores: dict[str, float],
) -> bool:
    """True when the question does not say which of the best match and its first sibling it
    means: the two score close, no attribute of the question separates them (the second
    stage's matches), and the question's words meet the parts of neither more than the
    other's."""
    if len(differences) < 2:
        return False
    runner_up = differences[1].code
    if scores.get(runner_up, 0.0) < CLOSE * scores.get(best.code, 0.0):
        return False
    mine = matches.get((best.kind, best.code))
    theirs = matches.get((best.kind, runner_up))
    if mine is not None and theirs is not None:
        if set(mine.satisfied) - set(theirs.satisfied) or (
            set(theirs.contradicted) - set(mine.contradicted)
        ):
            return False
    asked = set(tokenize(question))
    said = [len(asked & set(tokenize(" ".join(d.phrases)))) for d in differences[:2]]
    return said[0] == said[1]


def choose(reply: str, differences: tuple[Difference, ...]) -> Difference | None:
    """The candidate a short reply to a clarifying question picks ("without", "the one with
    the mattress", "E0261"): the one whose distinguishing parts share most words with it."""
    words = set(reply.casefold().replace(",", " ").split())
    for d in differences:
        if d.code.casefold() in words:
            return d
    scored = []
    for d in differences:
        phrase_words = set(" ".join(d.phrases).casefold().replace(",", " ").split())
        shared = words & phrase_words
        stems = set(tokenize(reply)) & set(tokenize(" ".join(d.phrases)))
        scored.append((len(shared) + 0.5 * len(stems), d))
    scored.sort(key=lambda pair: -pair[0])
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None
