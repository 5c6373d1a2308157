"""Quizzes for trainers, drawn from the codebook: items, distractors, and checks before output.

Each kind of question is one row of ``QuizBuilder._kinds``: where its keys come from (pool),
how an item is drafted around a key (draft), whether its key is right and which distractors
would also be right by the source the stem cites (right, rivals), and what its options are
(codes, modifiers, or other values such as billing units). The checker
(``QuizBuilder.problems``) refuses an item for any reason in ``REJECTIONS``; the builder then
draws again, so a quiz always has the count asked for or a clear error, and ``Quiz.rejected``
says what was refused on the way.

Items are deterministic: the same release, arguments and seed give the same quiz, byte for
byte in every format.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from assistant.records import CodeRecord, release_label

QUIZ_KINDS = (
    "descriptor-to-code",
    "code-to-descriptor",
    "drug",
    "modifier",
    "valid-on-date",
    "units",
    "mixed",
)
DIFFICULTIES = ("easy", "hard")
FORMATS = ("json", "gift", "moodle-xml", "aiken", "qti", "csv", "md")

# Why the checker refuses an item, by id. Drafts the builder could not complete (too few
# distractors for a key) are counted as "no-draft".
REJECTIONS = {
    "malformed": "not four distinct options with exactly one correct, or no date in the stem",
    "not-in-release": "the key is not a code of the release, or the explanation does not quote it",
    "wrong-key": "the key is keyed wrong: not right by the source the stem cites",
    "terminated-option": "a terminated code in an item that is not about dates of service",
    "second-right-answer": "a distractor is also right by the source the stem cites",
    "key-revealed": "the item's id (its title in every export) or its stem contains the key",
    "option-named": "the stem names another option, or an option names the code asked about",
    "date-ignored": "a date-of-service item whose key is the only option still valid today",
    "repeated-options": "another item of the quiz has the same four options (units: and code)",
    "repeated-stem": "another item of the quiz asks the same question",
}
NO_DRAFT = "no-draft"

# The stems of valid-on-date items, and the ways a date is written in them.
_DATED_STEMS = (
    "Which of these codes could be reported for a date of service of {day}?",
    "A claim line has a date of service of {day}. Which of these HCPCS codes was valid then?",
    "Which of these codes was valid for an item or service furnished on {day}?",
    "On {day}, which of these HCPCS Level II codes could be billed?",
    "Only one of these codes was valid on {day}. Which one?",
    "A supplier bills for a date of service of {day}. Which code was in effect on that date?",
)
_DATE_FORMATS = ("{d:%Y-%m-%d}", "{d:%m/%d/%Y}", "{d:%B} {d.day}, {d.year}")
_FIRST_TERMINATION_READ = date(2015, 1, 1)  # easy dates leave a year for codes ended in 2014


@dataclass(frozen=True)
class Option:
    code: str
    text: str
    correct: bool


@dataclass(frozen=True)
class QuizItem:
    id: str  # "q001-drug": the number and kind only, never the key (it titles every export)
    kind: str
    stem: str
    options: tuple[Option, ...]  # four, exactly one correct
    explanation: str  # quotes the correct code's descriptor and names the release
    citation: str  # e.g. "CMS HCPCS 2026-01, E0601"
    # What the stem asks about, for the checker (not exported): the quoted descriptor, the
    # code asked about (code-to-descriptor, units), the drug name as the crosswalk lists it, or
    # the date (ISO).
    subject: str = ""


@dataclass(frozen=True)
class Quiz:
    items: tuple[QuizItem, ...]
    release: str
    seed: int
    rejected: tuple[tuple[str, int], ...] = ()  # drafts refused on the way, by reason


class _Kind(NamedTuple):
    """One kind of question: its keys, how an item is drafted, whether its key is right and
    what else would be right by the source its stem cites, and what its options are: codes
    ("code"), modifiers ("modifier") or other values ("": the item is about the code its
    citation names)."""

    pool: Callable[[tuple[str, ...], str], list[CodeRecord]]
    draft: Callable[..., QuizItem | None]
    right: Callable[[QuizItem, Option], bool]
    rivals: Callable[[QuizItem], list[str]]
    record_kind: str = "code"


def _norm(text: str) -> frozenset[str]:
    from assistant.text import tokenize

    return frozenset(tokenize(text, drop_stopwords=False))


def _names(text: str, code: str) -> bool:
    """Whether ``text`` names ``code`` as a word, in any case: descriptors write codes and
    modifiers in lower case ("not therapeutically equivalent to j2185", "use the 'rr'
    modifier"). A two-letter modifier may be an English word ("at"): refusing such an item
    costs a redraw, missing one would show the key."""
    pattern = rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _none(_item: QuizItem) -> list[str]:
    return []


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", text) is not None


def _day_forms(day: date) -> list[str]:
    return [form.format(d=day) for form in _DATE_FORMATS]


class QuizBuilder:
    """Builds quizzes from one release of a loaded retriever (records, drugs, neighbours)."""

    def __init__(self, retriever, release: str | None = None):
        from assistant.retrieval import Filters

        self.retriever = retriever.load()
        self.release = retriever.release_for(Filters(release=release))
        # The codebook's "today": the first day of the release.
        self.today = date(int(self.release[:4]), int(self.release[5:7]), 1)
        rows = [r for r in retriever.book.all_codes() if r.release == self.release]
        self.records = {(r.kind, r.code): r for r in rows}
        self.active = sorted(
            (r for r in rows if r.termination_date is None), key=lambda r: (r.kind, r.code)
        )
        self.terminated = sorted(
            (r for r in rows if r.termination_date is not None), key=lambda r: r.code
        )
        self.dated = sorted(
            (r for r in rows if r.kind == "code" and r.add_date is not None), key=lambda r: r.code
        )
        # The ASP crosswalk both ways: drug name (casefolded) <-> codes.
        self.codes_of_drug: dict[str, set[str]] = {}
        self.drugs_of_code: dict[str, dict[str, str]] = {}
        for entry in self.retriever.crosswalk.values():
            name = " ".join(entry.drug_name.split())
            self.codes_of_drug.setdefault(name.casefold(), set()).add(entry.code)
            self.drugs_of_code.setdefault(entry.code, {})[name.casefold()] = name
        self._kinds = {
            "descriptor-to-code": _Kind(
                self._code_pool, self._descriptor_to_code, self._described, self._alike
            ),
            "code-to-descriptor": _Kind(
                self._code_pool, self._code_to_descriptor, self._asked, self._alike
            ),
            "drug": _Kind(self._drug_pool, self._drug_item, self._listed, self._listed_for_drug),
            "modifier": _Kind(
                self._modifier_pool, self._modifier_item, self._described, self._alike, "modifier"
            ),
            "valid-on-date": _Kind(
                self._dated_pool, self._dated_item, self._valid_on_day, self._valid_then
            ),
            "units": _Kind(self._units_pool, self._units_item, self._units_right, _none, ""),
        }

    # ------------------------------------------------------------------ public

    def make(
        self,
        count: int,
        kind: str = "mixed",
        difficulty: str = "easy",
        sections: tuple[str, ...] = (),
        seed: int = 0,
    ) -> Quiz:
        """A quiz of ``count`` checked items; a refused draft is replaced by a new draw (each
        key has one chance), and the reasons are counted in ``Quiz.rejected``.

        Raises UsageError for bad arguments, a selection with fewer than four keys for a kind,
        or one that cannot give ``count`` distinct items.
        """
        from assistant.errors import UsageError

        if kind not in QUIZ_KINDS:
            raise UsageError(f"kind must be one of {', '.join(QUIZ_KINDS)}")
        if difficulty not in DIFFICULTIES:
            raise UsageError(f"difficulty must be easy or hard, not {difficulty!r}")
        if count < 1:
            raise UsageError("count must be at least 1")
        rng = random.Random(seed)
        kinds = [k for k in QUIZ_KINDS if k != "mixed"] if kind == "mixed" else [kind]
        pools = {k: self._kinds[k].pool(sections, difficulty) for k in kinds}
        if kind == "mixed":
            # A mix takes the kinds the selection can serve (section E has no drugs, say).
            pools = {k: p for k, p in pools.items() if len(p) >= 4} or pools
            kinds = [k for k in kinds if k in pools]
        for k, pool in pools.items():
            if len(pool) < 4:
                where = f"section {''.join(sections)}" if sections else "the release"
                raise UsageError(
                    f"{where} has {len(pool)} eligible items for {k} questions; "
                    "at least 4 are needed"
                )
        items: list[QuizItem] = []
        used: set[str] = set()
        rejected: Counter[str] = Counter()
        attempts = 0
        while len(items) < count:
            attempts += 1
            if attempts > count * 30 + 100:
                raise UsageError(
                    f"only {len(items)} distinct questions could be made from this selection"
                )
            k = kinds[len(items) % len(kinds)]
            answer = rng.choice(pools[k])
            key = f"{k}:{answer.code}"
            if key in used:
                continue
            used.add(key)  # one chance per key: a refused key is not drawn again
            item = self._kinds[k].draft(answer, pools[k], difficulty, rng, len(items) + 1)
            if item is None:
                rejected[NO_DRAFT] += 1
                continue
            problems = self.problems(item, items)
            if problems:
                rejected.update(problems)
                continue
            items.append(item)
        return Quiz(tuple(items), self.release, seed, tuple(sorted(rejected.items())))

    def check(self, item: QuizItem, earlier: Sequence[QuizItem] = ()) -> None:
        """Refuse an item the checker finds a problem with (raises, naming the reasons)."""
        from assistant.errors import HcpcsError

        problems = self.problems(item, earlier)
        if problems:
            reasons = "; ".join(f"{p} ({REJECTIONS[p]})" for p in problems)
            raise HcpcsError(f"quiz item {item.id}: {reasons}")

    def problems(self, item: QuizItem, earlier: Sequence[QuizItem] = ()) -> list[str]:
        """Every reason (ids of ``REJECTIONS``) to refuse ``item`` in a quiz after ``earlier``."""
        correct = [o for o in item.options if o.correct]
        if (
            len(item.options) != 4
            or len(correct) != 1
            or len({o.code for o in item.options}) != 4
            or len({o.text.casefold() for o in item.options}) != 4
        ):
            return ["malformed"]
        spec = self._kinds.get(item.kind)
        if spec is None:
            return ["malformed"]
        key = correct[0]
        record = self._quoted(item, spec, key)
        if record is None or f"“{record.long_description}”" not in item.explanation:
            return ["not-in-release"]
        if spec.record_kind and any(
            (spec.record_kind, o.code) not in self.records for o in item.options
        ):
            return ["not-in-release"]
        out = []
        if item.kind == "valid-on-date":
            day = self._subject_day(item)
            if day is None or not any(form in item.stem for form in _day_forms(day)):
                return ["malformed"]
            still_valid = {
                o.code
                for o in item.options
                if self.records[("code", o.code)].termination_date is None
            }
            if still_valid == {key.code}:
                out.append("date-ignored")
        elif spec.record_kind:
            if any(self.records[(spec.record_kind, o.code)].terminated for o in item.options):
                out.append("terminated-option")
        elif record.terminated:
            out.append("terminated-option")
        if not spec.right(item, key):
            out.append("wrong-key")
        if spec.rivals(item):
            out.append("second-right-answer")
        if self._revealed(item, key):
            out.append("key-revealed")
        if self._named(item, key):
            out.append("option-named")
        options = self._option_set(item)
        if any(self._option_set(other) == options for other in earlier):
            out.append("repeated-options")
        if any(other.stem == item.stem for other in earlier):
            out.append("repeated-stem")
        return out

    # ------------------------------------------------------------------ checks

    def _option_set(self, item: QuizItem) -> tuple[str, frozenset[str]]:
        """What makes two items' options the same: the codes offered; for options that are
        values (units), the values for the same code (4 units of J9045 is not 4 of J9299)."""
        spec = self._kinds.get(item.kind)
        about = "" if spec is None or spec.record_kind else item.subject
        return about, frozenset(o.code for o in item.options)

    def _quoted(self, item: QuizItem, spec: _Kind, key: Option) -> CodeRecord | None:
        """The record the explanation must quote: the key's, or for an item whose options are
        not codes, the code its citation names."""
        if spec.record_kind:
            return self.records.get((spec.record_kind, key.code))
        return self.records.get(("code", item.citation.rsplit(", ", 1)[-1]))

    def _revealed(self, item: QuizItem, key: Option) -> bool:
        if _names(item.id, key.code):
            return True
        if item.kind == "code-to-descriptor" or not self._kinds[item.kind].record_kind:
            return key.text.casefold() in item.stem.casefold()
        return _names(item.stem, key.code)

    def _named(self, item: QuizItem, key: Option) -> bool:
        if not self._kinds[item.kind].record_kind:
            return False  # options are values (units): the dose's own number is a fair slip
        if item.kind == "code-to-descriptor":
            # "..., not therapeutically equivalent to j2185" as an option for J2185.
            return any(_names(o.text, item.subject) for o in item.options if not o.correct)
        return any(_names(item.stem, o.code) for o in item.options if not o.correct)

    def _alike(self, item: QuizItem) -> list[str]:
        """Distractors the stem's quotation (or the code asked about) fits as well as the key:
        the same descriptor in other words, or the key's predecessor or successor."""
        kind = "modifier" if item.kind == "modifier" else "code"
        key = self.records[(kind, next(o.code for o in item.options if o.correct))]
        words = _norm(key.long_description)
        out = []
        for option in item.options:
            other = self.records[(kind, option.code)]
            if option.correct:
                continue
            if (
                _norm(other.long_description) == words
                or other.code in key.cross_references
                or key.code in other.cross_references
            ):
                out.append(other.code)
        return out

    def _described(self, item: QuizItem, key: Option) -> bool:
        kind = "modifier" if item.kind == "modifier" else "code"
        return self.records[(kind, key.code)].long_description == item.subject

    def _asked(self, item: QuizItem, key: Option) -> bool:
        return key.code == item.subject

    def _listed(self, item: QuizItem, key: Option) -> bool:
        return key.code in self.codes_of_drug.get(item.subject.casefold(), set())

    def _valid_on_day(self, item: QuizItem, key: Option) -> bool:
        day = self._subject_day(item)
        return day is not None and self.records[("code", key.code)].active_on(day)

    def _units_right(self, item: QuizItem, key: Option) -> bool:
        """The key is the units the stem's dose comes to, worked out again."""
        from assistant.drug_units import Dose, billing_unit, compute, parse_dose

        code = item.citation.rsplit(", ", 1)[-1]
        record = self.records.get(("code", code))
        stated = re.search(r"for a dose of (.+?)\? ", item.stem)
        dose = parse_dose(stated.group(1)) if stated else None
        unit = billing_unit(record.long_description) if record else None
        if not isinstance(dose, Dose) or unit is None:
            return False
        claim = compute(code, dose, unit)
        return not isinstance(claim, str) and key.code == str(claim.units)

    def _listed_for_drug(self, item: QuizItem) -> list[str]:
        """Distractors the crosswalk lists under the drug name the stem asks about."""
        listed = self.codes_of_drug.get(item.subject.casefold(), set())
        return [o.code for o in item.options if not o.correct and o.code in listed]

    def _valid_then(self, item: QuizItem) -> list[str]:
        """Distractors that could also be reported on the stem's date."""
        day = self._subject_day(item)
        if day is None:
            return []
        return [
            o.code
            for o in item.options
            if not o.correct and self.records[("code", o.code)].active_on(day)
        ]

    @staticmethod
    def _subject_day(item: QuizItem) -> date | None:
        try:
            return date.fromisoformat(item.subject)
        except ValueError:
            return None

    # ------------------------------------------------------------------ pools

    def _in(self, sections: tuple[str, ...]) -> Callable[[CodeRecord], bool]:
        return lambda record: not sections or record.section in sections

    def _code_pool(self, sections: tuple[str, ...], _difficulty: str) -> list[CodeRecord]:
        inside = self._in(sections)
        return [r for r in self.active if r.kind == "code" and inside(r)]

    def _modifier_pool(self, _sections: tuple[str, ...], _difficulty: str) -> list[CodeRecord]:
        return [r for r in self.active if r.kind == "modifier"]

    def _drug_pool(self, sections: tuple[str, ...], difficulty: str) -> list[CodeRecord]:
        return [r for r in self._code_pool(sections, difficulty) if r.code in self.drugs_of_code]

    def _units_pool(self, sections: tuple[str, ...], difficulty: str) -> list[CodeRecord]:
        from assistant.drug_units import billing_unit, is_drug

        return [
            r
            for r in self._code_pool(sections, difficulty)
            if is_drug(r) and billing_unit(r.long_description)
        ]

    def _dated_pool(self, sections: tuple[str, ...], difficulty: str) -> list[CodeRecord]:
        """Keys of date-of-service items. Hard: codes terminated since, valid on the date
        asked about; easy: any code with an add date."""
        inside = self._in(sections)
        if difficulty == "hard":
            return [r for r in self.terminated if r.kind == "code" and inside(r) and r.add_date]
        return [r for r in self.dated if inside(r)]

    # ------------------------------------------------------------------ drafting

    def _distractors(
        self,
        answer: CodeRecord,
        pool: list[CodeRecord],
        difficulty: str,
        rng: random.Random,
        unlike: Callable[[CodeRecord], bool] = lambda _r: True,
        need: int = 3,
    ) -> list[CodeRecord]:
        """Other records of the same section (easy: at random; hard: nearest neighbours),
        none that reads the same as an option already chosen or that ``unlike`` refuses."""
        from assistant.retrieval import Filters

        same = [r for r in pool if r.section == answer.section and r.code != answer.code]
        if difficulty == "hard":
            filters = Filters(
                sections=(answer.section,),
                kinds=(answer.kind,),
                release=self.release,
                status="active",
            )
            near = self.retriever.search(answer.long_description, filters, k=20).hits
            candidates = [h.record for h in near if h.record.code != answer.code]
            candidates += rng.sample(same, min(len(same), 20))
        else:
            candidates = rng.sample(same, min(len(same), 40))
        chosen: list[CodeRecord] = []
        taken = {_norm(answer.long_description)}
        for cand in candidates:
            text = _norm(cand.long_description)
            if text in taken or cand.code in {c.code for c in chosen}:
                continue  # reads the same as an option already there: a second right answer
            if cand.code in answer.cross_references or answer.code in cand.cross_references:
                continue  # the same item under another code (a code and its successor)
            if not unlike(cand):
                continue
            chosen.append(cand)
            taken.add(text)
            if len(chosen) == need:
                break
        return chosen

    def _code_choice(
        self,
        kind: str,
        answer: CodeRecord,
        wrong: list[CodeRecord],
        stem: str,
        subject: str,
        rng: random.Random,
        number: int,
        note: str = "",
    ) -> QuizItem | None:
        """An item whose options are codes: which of these is described as ... / billed for."""
        if len(wrong) < 3:
            return None
        records = [answer, *wrong]
        rng.shuffle(records)
        others = "; ".join(
            f"{r.code} is “{r.long_description}”" for r in records if r is not answer
        )
        explanation = (
            f"{answer.code} is “{answer.long_description}” ({release_label(self.release)}). "
            f"{note}The others describe something else: {others}."
        )
        return QuizItem(
            f"q{number:03d}-{kind}",
            kind,
            stem,
            tuple(Option(r.code, r.code, r is answer) for r in records),
            explanation,
            f"{release_label(self.release)}, {answer.code}",
            subject,
        )

    def _descriptor_to_code(self, answer, pool, difficulty, rng, number) -> QuizItem | None:
        wrong = self._distractors(answer, pool, difficulty, rng)
        stem = f"Which HCPCS Level II code is described as “{answer.long_description}”?"
        return self._code_choice(
            "descriptor-to-code", answer, wrong, stem, answer.long_description, rng, number
        )

    def _modifier_item(self, answer, pool, difficulty, rng, number) -> QuizItem | None:
        wrong = self._distractors(answer, pool, difficulty, rng)
        stem = f"Which modifier is described as “{answer.long_description}”?"
        return self._code_choice(
            "modifier", answer, wrong, stem, answer.long_description, rng, number
        )

    def _code_to_descriptor(self, answer, pool, difficulty, rng, number) -> QuizItem | None:
        wrong = self._distractors(answer, pool, difficulty, rng)
        if len(wrong) < 3:
            return None
        records = [answer, *wrong]
        rng.shuffle(records)
        label = release_label(self.release)
        explanation = (
            f"{answer.code} is “{answer.long_description}” ({label}). The other choices are "
            "the descriptors of " + ", ".join(r.code for r in records if r is not answer) + "."
        )
        return QuizItem(
            f"q{number:03d}-code-to-descriptor",
            "code-to-descriptor",
            f"What does HCPCS code {answer.code} describe ({label})?",
            tuple(Option(r.code, r.long_description, r is answer) for r in records),
            explanation,
            f"{label}, {answer.code}",
            answer.code,
        )

    def _drug_names(self, code: str) -> set[str]:
        return set(self.drugs_of_code.get(code, {}))

    def _same_drug(self, a: CodeRecord, b: CodeRecord) -> bool:
        """Whether two codes are for the same drug: the crosswalk lists a name under both, or
        one's descriptor names a drug the crosswalk lists under the other."""
        names_a, names_b = self._drug_names(a.code), self._drug_names(b.code)
        if names_a & names_b:
            return True
        text_a, text_b = a.long_description.casefold(), b.long_description.casefold()
        return any(_mentions(text_b, n) for n in names_a) or any(
            _mentions(text_a, n) for n in names_b
        )

    def _drug_item(self, answer, pool, difficulty, rng, number) -> QuizItem | None:
        """Which code does the crosswalk list for a drug name? The name is one the crosswalk
        lists under the key alone when there is one; no distractor is the same drug."""
        names = self.drugs_of_code[answer.code]
        only = sorted(n for n in names if self.codes_of_drug[n] == {answer.code})
        folded = rng.choice(only or sorted(names))
        name = names[folded]
        wrong = self._distractors(
            answer, pool, difficulty, rng, unlike=lambda r: not self._same_drug(answer, r)
        )
        also = sorted(self.codes_of_drug[folded] - {answer.code})
        note = (
            f"The crosswalk lists {name} under {answer.code}"
            + (f" (and under {', '.join(also)}, not among the choices)" if also else "")
            + ". "
        )
        stem = (
            f"Which code is billed for {name}, as the CMS ASP crosswalk lists it? "
            f"({release_label(self.release)})"
        )
        return self._code_choice("drug", answer, wrong, stem, name, rng, number, note)

    def _dated_item(self, answer, pool, difficulty, rng, number) -> QuizItem | None:
        """Which code could be reported on a date? The key is valid on that date, and at least
        one distractor is still valid today but was added after it, so the date must be read.

        Hard: the key has been terminated since; the distractors are codes of its section
        added within three years after the date (its successors first) or terminated within
        two years before it. Easy: any code valid on the date; distractors added a year or
        more after it or terminated a year or more before it.
        """
        sections = {r.section for r in pool}  # the sections the quiz was asked to draw from
        if difficulty == "hard":
            end = answer.termination_date
            start = max(answer.add_date, end - timedelta(days=730))
        else:
            last = self.today - timedelta(days=366)
            start = max(answer.add_date, _FIRST_TERMINATION_READ)
            end = min(answer.termination_date or last, last)
        if start > end:
            return None
        day = start + timedelta(days=rng.randrange((end - start).days + 1))
        if difficulty == "hard":
            section = [r for r in self.dated if r.section == answer.section and r is not answer]
            later = [
                r
                for r in section
                if r.termination_date is None and day < r.add_date <= day + timedelta(days=1095)
            ]
            ended = [
                r
                for r in section
                if r.termination_date is not None
                and day - timedelta(days=730) <= r.termination_date < day
            ]
            successors = [
                r
                for r in later
                if r.code in answer.cross_references or answer.code in r.cross_references
            ]
        else:
            year = timedelta(days=365)
            later = [
                r
                for r in self.dated
                if r.section in sections and r.termination_date is None and r.add_date >= day + year
            ]
            ended = [
                r
                for r in self.terminated
                if r.section in sections and r.kind == "code" and r.termination_date <= day - year
            ]
            successors = []
        if not later:
            return None
        n_later = min(len(later), rng.choice((1, 2)), 3)
        first = successors[:1] if successors else []
        rest = [r for r in later if r not in first]
        wrong = first + rng.sample(rest, min(len(rest), n_later - len(first)))
        wrong += rng.sample(ended, min(len(ended), 3 - len(wrong)))
        if len(wrong) < 3:
            extra = [r for r in later if r not in wrong]
            wrong += rng.sample(extra, min(len(extra), 3 - len(wrong)))
        if len(wrong) < 3:
            return None
        records = [answer, *wrong]
        rng.shuffle(records)
        shown = rng.choice(_DATE_FORMATS).format(d=day)
        stem = rng.choice(_DATED_STEMS).format(day=shown) + f" ({release_label(self.release)})"
        iso = day.isoformat()
        span = f"valid from {answer.add_date.isoformat()}" + (
            f" through {answer.termination_date.isoformat()}"
            if answer.termination_date
            else " and still valid"
        )
        reasons = " ".join(
            f"{r.code} was added on {r.add_date.isoformat()}, after {iso}."
            if r.add_date > day
            else f"{r.code} was terminated on {r.termination_date.isoformat()}, before {iso}."
            for r in records
            if r is not answer
        )
        explanation = (
            f"{answer.code} is “{answer.long_description}” ({release_label(self.release)}), "
            f"{span}, so it could be reported on {iso}. {reasons}"
        )
        return QuizItem(
            f"q{number:03d}-valid-on-date",
            "valid-on-date",
            stem,
            tuple(Option(r.code, r.code, r is answer) for r in records),
            explanation,
            f"{release_label(self.release)}, {answer.code}",
            iso,
        )

    def _units_item(self, record, _pool, difficulty: str, rng, number: int) -> QuizItem | None:
        """A dose of a drug code -> its billing units: the dose divided by the descriptor's
        amount per unit, rounded up between units; the arithmetic in the explanation. Wrong
        answers are the usual slips: rounding down, one unit off, the dose's own number, a
        factor of ten (easy: only the far-off ones)."""
        from decimal import Decimal

        from assistant.answer import WORDING
        from assistant.drug_units import Dose, arithmetic, billing_unit, compute, fmt

        unit = billing_unit(record.long_description)
        if unit is None:
            return None
        whole = rng.randint(2, 12)
        amount = unit.amount * whole
        if rng.random() < 0.4:  # between units: half a unit short of ``whole``
            amount -= unit.amount / 2
        measure = unit.unit
        # Now and then the dose is written in the next measure up or down (1 g, 0.5 mg).
        if measure == "mg" and amount >= 1000 and amount % 100 == 0 and rng.random() < 0.5:
            amount, measure = amount / 1000, "g"
        elif measure == "mcg" and amount >= 100 and rng.random() < 0.5:
            amount, measure = amount / 1000, "mg"
        shown = {"iu": "i.u.", "ml": "mL", "meq": "mEq"}.get(measure, measure)
        text = f"{fmt(amount)} {shown}"
        claim = compute(record.code, Dose(Decimal(amount), measure, text), unit)
        if isinstance(claim, str):
            return None
        right = claim.units
        slips = [right * 10, max(1, right // 10), right + right // 2 + 1]
        if difficulty == "hard":
            slips = [int(claim.ratio), right - 1, right + 1, int(amount), *slips]
        wrong: list[int] = []
        for value in slips:
            if value > 0 and value != right and value not in wrong:
                wrong.append(value)
        if len(wrong) < 3:
            return None
        values = [right, *(wrong[:3] if difficulty == "hard" else rng.sample(wrong, 3))]
        rng.shuffle(values)
        options = tuple(
            Option(str(v), f"{v:,} unit{'' if v == 1 else 's'}", v == right) for v in values
        )
        stem = (
            f"How many billing units of {record.code} are reported for a dose of {text}? "
            f"{record.code} is “{record.long_description}” (CMS HCPCS {self.release})."
        )
        explanation = (
            f"{record.code} is “{record.long_description}” (CMS HCPCS {self.release}). "
            f"{arithmetic(claim, WORDING)}: the dose divided by the amount per unit, rounded up "
            "to the next whole unit when it falls between units, as the MAC guidance shows."
        )
        return QuizItem(
            f"q{number:03d}-units",
            "units",
            stem,
            options,
            explanation,
            f"{release_label(self.release)}, {record.code}",
            record.code,
        )
