"""The frozen record types that flow from the parsers to the index, retrieval and answers.

Ids are derived from content: a code record is identified by release and code, a passage by
its source and section, a drug entry by its source, name and line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

# --- the vocabulary of a code record: one definition each ---------------------------------

# A Level II code is a letter and four digits; a modifier two letters or digits.
CODE_RE = r"[A-Z][0-9]{4}"
MODIFIER_RE = r"[A-Z0-9]{2}"
CODE_PATTERN = re.compile(rf"^{CODE_RE}$")
MODIFIER_PATTERN = re.compile(rf"^{MODIFIER_RE}$")
# The letters that hold Level II codes in the CMS file (no D, F, I, N, O, W, X, Y, Z).
SECTION_LETTERS = "ABCEGHJKLMPQRSTUV"
SECTIONS = (*SECTION_LETTERS, "modifier")
RECORD_KINDS = ("code", "modifier")
STATUSES = ("active", "terminated")


def section_letters(text: str | None) -> tuple[str, ...]:
    """Section letters as a trainer types them ("EJ", "e, j", "E J"): each once, in order.

    UsageError for anything but letters A-Z, spaces and commas.
    """
    from assistant.errors import UsageError

    letters = tuple(dict.fromkeys(c for c in (text or "").upper() if not c.isspace() and c != ","))
    for letter in letters:
        if not ("A" <= letter <= "Z"):
            raise UsageError(f"{letter!r} is not a section letter")
    return letters


def release_label(release: str) -> str:
    """How a release is named wherever it is cited: ``CMS HCPCS 2026-01``."""
    return f"CMS HCPCS {release}"


def release_quarter_end(release: str) -> date:
    """The last day of the quarter a release (``YYYY-MM``) opens: 2026-01 -> 2026-03-31.

    CMS publishes a release per quarter; what changes after its quarter is in the next one.
    """
    import calendar

    year, month = int(release[:4]), int(release[5:7]) + 2
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def release_month_name(release: str) -> str:
    """``January 2026`` for ``2026-01``."""
    import calendar

    return f"{calendar.month_name[int(release[5:7])]} {release[:4]}"


@dataclass(frozen=True)
class CodeRecord:
    """One HCPCS Level II procedure code or modifier as one CMS release publishes it."""

    code: str
    kind: str  # "code" or "modifier"
    release: str  # e.g. "2025-01"
    long_description: str
    short_description: str
    pricing_indicators: tuple[str, ...] = ()
    pricing_meanings: tuple[str, ...] = ()
    multiple_pricing_indicator: str = ""
    multiple_pricing_meaning: str = ""
    cim_references: tuple[str, ...] = ()
    mcm_references: tuple[str, ...] = ()
    statute: str = ""
    lab_certifications: tuple[str, ...] = ()
    lab_certification_meanings: tuple[str, ...] = ()
    cross_references: tuple[str, ...] = ()
    coverage_code: str = ""
    coverage_meaning: str = ""
    asc_group: str = ""
    asc_effective_date: date | None = None
    opps_payment_group: str = ""
    opps_policy_indicator: str = ""
    opps_policy_meaning: str = ""
    opps_effective_date: date | None = None
    processing_note_number: str = ""
    processing_note: str = ""
    betos: str = ""
    types_of_service: tuple[str, ...] = ()
    anesthesia_base_units: int | None = None
    add_date: date | None = None
    action_effective_date: date | None = None
    termination_date: date | None = None
    action_code: str = ""
    action_meaning: str = ""
    noc: bool = False

    @property
    def id(self) -> str:
        return f"{self.release}:{self.kind}:{self.code}"

    @property
    def section(self) -> str:
        """The letter section of a code (``E`` for E0601); ``modifier`` for modifiers."""
        return self.code[0] if self.kind == "code" else "modifier"

    @property
    def terminated(self) -> bool:
        return self.termination_date is not None

    @property
    def status(self) -> str:
        """``active`` or ``terminated`` (in the release this record comes from)."""
        return "terminated" if self.terminated else "active"

    @property
    def status_text(self) -> str:
        """``active``, or ``terminated 2024-03-31`` (the last valid date of service)."""
        if self.termination_date is None:
            return "active"
        return f"terminated {self.termination_date.isoformat()}"

    @property
    def source_label(self) -> str:
        return release_label(self.release)

    def status_in(self, newest: str) -> str:
        """Status as seen from the newest loaded release: a code CMS dropped from later files
        is "not in" it rather than active."""
        if self.terminated or self.release == newest:
            return self.status_text
        return f"not in the {newest} release (last seen {self.release})"

    def active_on(self, day: date) -> bool:
        """Whether the code may be reported on a date of service (by add and termination dates)."""
        if self.add_date is not None and day < self.add_date:
            return False
        return self.termination_date is None or day <= self.termination_date


@dataclass(frozen=True)
class CodeStatus:
    """How a code named by a drug source stands in the newest loaded release."""

    code: str
    status: str  # "active", "terminated" or "absent"
    termination_date: date | None = None


@dataclass(frozen=True)
class DrugEntry:
    """One line of the CMS Table of Drugs: a drug name with its unit, routes and codes.

    A ``see`` line (brand name pointing to a generic entry) has ``see`` set to the target name
    and carries the target's codes, units and routes once resolved.
    """

    name: str
    unit: str
    routes: tuple[str, ...]
    codes: tuple[str, ...]
    source: str  # source id, e.g. "table-of-drugs-2019"
    line: int  # 1-based order of the entry in the table, for a stable id and citation
    see: str = ""
    code_status: tuple[CodeStatus, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class CrosswalkRow:
    """One NDC row of the CMS ASP NDC-HCPCS crosswalk, its cells as printed (spacing folded).

    ``billing_units`` is the file's BILLUNITS (billing units in one package item) and
    ``billing_units_package`` its BILLUNITSPKG (billing units in the whole package).
    """

    labeler: str
    ndc: str
    dosage: str
    package_size: str = ""
    package_quantity: str = ""
    billing_units: str = ""
    billing_units_package: str = ""


@dataclass(frozen=True)
class CrosswalkEntry:
    """One drug name and HCPCS code pair from the CMS ASP NDC-HCPCS crosswalk.

    NDC-level rows of the same drug name and code are folded into one entry.
    """

    drug_name: str
    code: str
    short_description: str
    dosage: str
    labelers: tuple[str, ...]
    ndcs: tuple[str, ...]
    billing_units: tuple[str, ...]
    source: str  # source id, e.g. "asp-crosswalk-2026-01"
    code_status: CodeStatus | None = None
    rows: tuple[CrosswalkRow, ...] = ()  # the NDC rows folded into this entry, by NDC

    @property
    def id(self) -> str:
        return f"{self.source}:{self.code}:{self.drug_name.casefold()}"


@dataclass(frozen=True)
class Passage:
    """A citable passage of guidance: a paragraph or section of a guidance document."""

    source: str  # source id from corpus/sources.toml
    title: str  # document title
    section: str  # section path within the document, e.g. "Summary" or "(a) General rule"
    text: str
    citation: str  # human citation string, e.g. "42 CFR 414.40(a)"
    order: int = 0  # position within the document
    kind: str = "guidance"  # or "record-layout": a code table of a release's record layout

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:10]
        return f"{self.source}:{self.order}:{digest}"

    def cited_for(self, supports: str) -> Citation:
        """The passage quoted whole, as the citation of what it ``supports`` in an answer."""
        return Citation(
            self.kind,
            self.title,
            self.section or "(whole document)",
            self.text,
            ref=self.source,
            supports=supports,
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved record with its score and where it came from."""

    record: CodeRecord | DrugEntry | CrosswalkEntry | Passage
    score: float
    via: tuple[str, ...] = ()


# --- answers ----------------------------------------------------------------------------

# Every notice an answer can carry, by id. Their wording lives in assistant.answer only.
NOTICE_IDS = (
    "coverage",  # a code's existence does not, of itself, determine coverage
    "product-agnostic",  # brands, manufacturers, "CMS assigned our product"
    "terminated",  # a code shown is terminated, or not valid on the date of service
    "not-yet-valid",  # a code shown was added after the date of service
    "noc",  # a code shown is not otherwise classified
    "no-evidence",  # nothing relevant enough: no code is named
    "release-behind",  # the date of service (or today) is past the release's quarter
)
# Why an answer gives no billing units for a dose it read (Units.problem); the remark that
# says so is worded in assistant.answer.
UNITS_PROBLEMS = (
    "zero-dose",  # a dose of 0
    "negative-dose",  # a dose below 0
    "too-large",  # more than 100 times the largest package the ASP crosswalk lists
    "unit-mismatch",  # mg against a code billed in mL or units, and the like
    "no-billing-unit",  # the descriptor states no amount per unit (per vial, NOC, tiers)
    "per-weight",  # mg/kg without the patient's weight
    "per-area",  # mg/m2: needs the dose itself
    "range",  # "200-400 mg"
    "two-doses",  # more than one dose: which one was given?
)
CLAIM_MODIFIERS = ("", "JW", "JZ")
# What a citation quotes: a code's descriptor from a release, a guidance passage, a row of the
# ASP crosswalk, a line of the Table of Drugs, or a passage of a release's record layout.
CITATION_KINDS = ("descriptor", "guidance", "crosswalk", "drug-table", "record-layout")


@dataclass(frozen=True)
class Citation:
    """Where a statement of an answer comes from, quoted: ``text`` is the source's own words.

    ``ref`` is the release id for a descriptor ("2026-01"), else the source id of
    corpus/sources.toml; ``source`` is the human name ("CMS HCPCS 2026-01", a title);
    ``supports`` the notice id (or other part of the answer) the quote is cited for.
    """

    kind: str
    source: str
    locator: str
    text: str
    ref: str
    supports: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CITATION_KINDS:
            raise ValueError(f"unknown citation kind {self.kind!r}")


@dataclass(frozen=True)
class Notice:
    """A statement the answer must make, by id, with its text and the codes it is about."""

    id: str
    text: str
    codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.id not in NOTICE_IDS:
            raise ValueError(f"unknown notice id {self.id!r}")


@dataclass(frozen=True)
class Difference:
    """The parts of one candidate's descriptor (quoted) that the code it is compared with
    lacks: what sets it apart."""

    code: str
    phrases: tuple[str, ...]
    against: str  # the code it is compared with (the best match; for the best, its runner-up)


@dataclass(frozen=True)
class ClaimLine:
    """One line of a drug claim: the code, its modifier ("", "JW" or "JZ") and billing units."""

    code: str
    modifier: str
    units: int

    def __post_init__(self) -> None:
        if self.modifier not in CLAIM_MODIFIERS:
            raise ValueError(f"unknown claim modifier {self.modifier!r}")


@dataclass(frozen=True)
class Units:
    """Billing units for the dose a question states, for one code (assistant.drug_units).

    ``units`` is None when none can be given; ``problem`` (from UNITS_PROBLEMS) then says why.
    ``discarded_units`` is the JW amount (0 with JZ), None when the question does not say
    what was in the containers or they were multi-dose. ``arithmetic`` shows the division
    (and the waste) in words; ``citation`` is the guidance passage the arithmetic follows.
    Units only: never a price, never a statement that the units will be paid.
    """

    code: str
    dose: str  # the dose as the question states it ("240 mg", "5 mg/kg x 82 kg")
    per_unit: str  # the descriptor's amount per billing unit as it prints it ("per 250 mg")
    units: int | None = None
    discarded_units: int | None = None
    modifier: str = ""  # "JW" with a discarded line, "JZ" when nothing was discarded
    arithmetic: str = ""
    lines: tuple[ClaimLine, ...] = ()
    citation: Citation | None = None
    problem: str = ""

    def __post_init__(self) -> None:
        if self.problem and self.problem not in UNITS_PROBLEMS:
            raise ValueError(f"unknown units problem {self.problem!r}")
        if self.modifier not in CLAIM_MODIFIERS:
            raise ValueError(f"unknown claim modifier {self.modifier!r}")


@dataclass(frozen=True)
class Answer:
    """An answer as data. Shells (CLI, JSON, chat, exports, eval checks) render these fields;
    ``text`` is the plain-text rendering the composer made of them, for reading only."""

    question: str
    release: str
    codes: tuple[CodeRecord, ...] = ()
    citations: tuple[Citation, ...] = ()
    notices: tuple[Notice, ...] = ()
    remarks: tuple[str, ...] = ()  # about the question: cut to length, read as a follow-up
    follow_up: bool = False
    date_of_service: date | None = None
    differences: tuple[Difference, ...] = ()  # the best match and its siblings compared
    clarify: str | None = None  # the question to ask when the coder's question did not say
    units: Units | None = None  # billing units for a dose the question states
    text: str = ""

    @property
    def notice_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.id for n in self.notices))

    def notices_of(self, notice_id: str) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if n.id == notice_id)

    def citations_of(self, *kinds: str) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if c.kind in kinds)
