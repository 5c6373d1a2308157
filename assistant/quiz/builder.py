"""Quizzes for trainers, drawn from the codebook: items, distractors, and checks before output."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.records import release_label

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


@dataclass(frozen=True)
class Option:
    code: str
    text: str
    correct: bool


@dataclass(frozen=True)
class QuizItem:
    id: str
    kind: str
    stem: str
    options: tuple[Option, ...]  # four, exactly one correct
    explanation: str  # quotes the correct code's descriptor and names the release
    citation: str  # e.g. "CMS HCPCS 2026-01, E0601"


@dataclass(frozen=True)
class Quiz:
    items: tuple[QuizItem, ...]
    release: str
    seed: int


def _norm(text: str) -> frozenset[str]:
    from assistant.text import tokenize

    return frozenset(tokenize(text, drop_stopwords=False))


class QuizBuilder:
    """Builds quizzes from one release of a loaded retriever (records, drugs, neighbours)."""

    def __init__(self, retriever, release: str | None = None):
        from assistant.retrieval import Filters

        self.retriever = retriever.load()
        self.release = retriever.release_for(Filters(release=release))
        rows = [r for r in retriever.book.all_codes() if r.release == self.release]
        self.records = {(r.kind, r.code): r for r in rows}
        self.active = sorted(
            (r for r in rows if r.termination_date is None), key=lambda r: (r.kind, r.code)
        )
        self.terminated = sorted(
            (r for r in rows if r.termination_date is not None), key=lambda r: r.code
        )

    # ------------------------------------------------------------------ public

    def make(
        self,
        count: int,
        kind: str = "mixed",
        difficulty: str = "easy",
        sections: tuple[str, ...] = (),
        seed: int = 0,
    ) -> Quiz:
        import random

        from assistant.errors import UsageError

        if kind not in QUIZ_KINDS:
            raise UsageError(f"kind must be one of {', '.join(QUIZ_KINDS)}")
        if difficulty not in DIFFICULTIES:
            raise UsageError(f"difficulty must be easy or hard, not {difficulty!r}")
        if count < 1:
            raise UsageError("count must be at least 1")
        rng = random.Random(seed)
        kinds = [k for k in QUIZ_KINDS if k != "mixed"] if kind == "mixed" else [kind]
        pools = {k: self._pool(k, sections) for k in kinds}
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
        attempts = 0
        while len(items) < count:
            attempts += 1
            if attempts > count * 20:
                raise UsageError(
                    f"only {len(items)} distinct questions could be made from this selection"
                )
            k = kinds[len(items) % len(kinds)]
            answer = rng.choice(pools[k])
            key = f"{k}:{answer.code}"
            if key in used:
                continue
            item = self._item(k, answer, pools[k], difficulty, rng, len(items) + 1)
            if item is None:
                continue
            self.check(item)
            used.add(key)
            items.append(item)
        return Quiz(tuple(items), self.release, seed)

    def check(self, item: QuizItem) -> None:
        """Refuse an item whose key is wrong or whose options could confuse (raises)."""
        from assistant.errors import HcpcsError

        correct = [o for o in item.options if o.correct]
        if len(item.options) != 4 or len(correct) != 1:
            raise HcpcsError(f"quiz item {item.id}: needs four options, one correct")
        if len({o.code for o in item.options}) != 4 or len({o.text for o in item.options}) != 4:
            raise HcpcsError(f"quiz item {item.id}: options are not distinct")
        if item.kind == "units":
            self._check_units(item, correct[0])
            return
        kind = "modifier" if item.kind == "modifier" else "code"
        record = self.records.get((kind, correct[0].code))
        if record is None:
            raise HcpcsError(f"quiz item {item.id}: {correct[0].code} is not in {self.release}")
        if item.kind != "valid-on-date" and record.termination_date is not None:
            raise HcpcsError(f"quiz item {item.id}: {record.code} is terminated")
        if f"“{record.long_description}”" not in item.explanation:
            raise HcpcsError(f"quiz item {item.id}: the explanation does not quote the release")
        if item.kind == "valid-on-date":
            import re
            from datetime import date

            day = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", item.stem).group(0))
            for option in item.options:
                rec = self.records[("code", option.code)]
                if rec.active_on(day) != option.correct:
                    raise HcpcsError(f"quiz item {item.id}: {option.code} on {day} is keyed wrong")

    # ------------------------------------------------------------------ internals

    def _pool(self, kind: str, sections: tuple[str, ...]) -> list:
        def in_sections(record) -> bool:
            return not sections or record.section in sections

        if kind == "modifier":
            return [r for r in self.active if r.kind == "modifier"]
        codes = [r for r in self.active if r.kind == "code" and in_sections(r)]
        if kind == "drug":
            drug_codes = {c.code for c in self.retriever.crosswalk.values()}
            return [r for r in codes if r.code in drug_codes]
        if kind == "valid-on-date":
            return [r for r in self.terminated if in_sections(r)]
        if kind == "units":
            from assistant.drug_units import billing_unit, is_drug

            return [r for r in codes if is_drug(r) and billing_unit(r.long_description)]
        return codes

    def _distractors(self, answer, pool: list, difficulty: str, rng, need: int = 3) -> list:
        """Other records of the same section (easy: at random; hard: nearest neighbours)."""
        from assistant.retrieval import Filters

        same = [r for r in pool if r.section == answer.section and r.code != answer.code]
        if difficulty == "hard":
            filters = Filters(
                sections=(answer.section,),
                kinds=(answer.kind,),
                release=self.release,
                status=None if answer.termination_date else "active",
            )
            near = self.retriever.search(answer.long_description, filters, k=20).hits
            candidates = [h.record for h in near if h.record.code != answer.code]
            candidates += rng.sample(same, min(len(same), 20))
        else:
            candidates = rng.sample(same, min(len(same), 40))
        chosen: list = []
        taken = {_norm(answer.long_description)}
        for cand in candidates:
            text = _norm(cand.long_description)
            if text in taken or cand.code in {c.code for c in chosen}:
                continue  # reads the same as an option already there: a second right answer
            if cand.code in answer.cross_references or answer.code in cand.cross_references:
                continue  # the same item under another code (a code and its successor)
            chosen.append(cand)
            taken.add(text)
            if len(chosen) == need:
                return chosen
        return chosen

    def _item(self, kind: str, answer, pool: list, difficulty: str, rng, number: int):
        if kind == "valid-on-date":
            return self._validity_item(answer, rng, number)
        if kind == "units":
            return self._units_item(answer, difficulty, rng, number)
        wrong = self._distractors(answer, pool, difficulty, rng)
        if len(wrong) < 3:
            return None
        records = [answer, *wrong]
        rng.shuffle(records)
        quote = f"“{answer.long_description}”"
        cite = f"{release_label(self.release)}, {answer.code}"
        if kind == "code-to-descriptor":
            stem = f"What does HCPCS code {answer.code} describe (CMS HCPCS {self.release})?"
            options = tuple(Option(r.code, r.long_description, r is answer) for r in records)
            why = (
                "The other choices are the descriptors of "
                + ", ".join(r.code for r in records if r is not answer)
                + "."
            )
        else:
            if kind == "drug":
                names = sorted(
                    {
                        c.drug_name
                        for c in self.retriever.crosswalk.values()
                        if c.code == answer.code
                    }
                )
                stem = (
                    f"Which code is billed for {names[0]}, as the CMS ASP crosswalk "
                    f"lists it? (CMS HCPCS {self.release})"
                    if names
                    else f"Which code is described as {quote}?"
                )
            elif kind == "modifier":
                stem = f"Which modifier is described as {quote}?"
            else:
                stem = f"Which HCPCS Level II code is described as {quote}?"
            options = tuple(Option(r.code, r.code, r is answer) for r in records)
            why = (
                "The others describe something else: "
                + "; ".join(
                    f"{r.code} is “{r.long_description}”" for r in records if r is not answer
                )
                + "."
            )
        explanation = f"{answer.code} is {quote} (CMS HCPCS {self.release}). {why}"
        return QuizItem(
            f"q{number:03d}-{kind}-{answer.code}", kind, stem, options, explanation, cite
        )

    def _validity_item(self, terminated, rng, number: int):
        """Which code could be reported on a date after ``terminated`` ended? One active code
        of the same section against three codes terminated before that date."""
        from datetime import timedelta

        day = terminated.termination_date + timedelta(days=31)
        ended = [
            r
            for r in self.terminated
            if r.section == terminated.section and r.termination_date < day
        ]
        active = [
            r
            for r in self.active
            if r.kind == "code"
            and r.section == terminated.section
            and (r.add_date is None or r.add_date <= day)
        ]
        if len(ended) < 3 or not active:
            return None
        right = rng.choice(active)
        wrong = [
            terminated,
            *rng.sample([r for r in ended if r.code != terminated.code], min(2, len(ended) - 1)),
        ]
        if len(wrong) < 3:
            return None
        records = [right, *wrong]
        rng.shuffle(records)
        stem = (
            f"Which of these codes could be reported for a date of service of "
            f"{day.isoformat()}? (CMS HCPCS {self.release})"
        )
        options = tuple(Option(r.code, r.code, r is right) for r in records)
        explanation = (
            f"{right.code} is “{right.long_description}” (CMS HCPCS {self.release}), valid on "
            f"{day.isoformat()}. "
            + " ".join(
                f"{r.code} was terminated on {r.termination_date.isoformat()}." for r in wrong
            )
        )
        return QuizItem(
            f"q{number:03d}-valid-on-date-{right.code}",
            "valid-on-date",
            stem,
            options,
            explanation,
            f"{release_label(self.release)}, {right.code}",
        )

    # ------------------------------------------------------------------ units

    def _units_item(self, record, difficulty: str, rng, number: int):
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
        )

    def _check_units(self, item: QuizItem, correct: Option) -> None:
        """A units item quotes its code's descriptor and its key is the units the dose in its
        stem comes to (worked out again here)."""
        import re

        from assistant.drug_units import Dose, billing_unit, compute, parse_dose
        from assistant.errors import HcpcsError

        code = item.citation.rsplit(", ", 1)[-1]
        record = self.records.get(("code", code))
        if record is None or record.termination_date is not None:
            raise HcpcsError(f"quiz item {item.id}: {code} is not an active code of the release")
        if f"“{record.long_description}”" not in item.explanation:
            raise HcpcsError(f"quiz item {item.id}: the explanation does not quote the release")
        stated = re.search(r"for a dose of (.+?)\? ", item.stem)
        dose = parse_dose(stated.group(1)) if stated else None
        unit = billing_unit(record.long_description)
        claim = compute(code, dose, unit) if isinstance(dose, Dose) and unit is not None else None
        if claim is None or isinstance(claim, str) or correct.code != str(claim.units):
            raise HcpcsError(f"quiz item {item.id}: the units are keyed wrong")
