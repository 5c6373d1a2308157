"""The frozen record types that flow from the parsers to the index, retrieval and answers.

Ids are derived from content: a code record is identified by release and code, a passage by
its source and section, a drug entry by its source, name and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date


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

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:10]
        return f"{self.source}:{self.order}:{digest}"


@dataclass(frozen=True)
class Hit:
    """A retrieved record with its score and where it came from."""

    record: CodeRecord | DrugEntry | CrosswalkEntry | Passage
    score: float
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """Where a statement of an answer comes from: a release or guidance document and a locator."""

    source: str
    locator: str
    text: str
    ref: str = ""  # source id (corpus/sources.toml) or "CMS HCPCS <release>" for code quotes


@dataclass(frozen=True)
class Answer:
    text: str
    codes: tuple[CodeRecord, ...] = ()
    citations: tuple[Citation, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)
