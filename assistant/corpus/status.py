"""How a code named by another source (a drug table, the crosswalk) stands in a release."""

from __future__ import annotations

from collections.abc import Mapping

from assistant.records import CodeRecord, CodeStatus


def code_status(code: str, records: Mapping[str, CodeRecord]) -> CodeStatus:
    """Status of ``code`` among ``records`` (code -> record of one release)."""
    record = records.get(code)
    if record is None:
        return CodeStatus(code, "absent")
    if record.termination_date is not None:
        return CodeStatus(code, "terminated", record.termination_date)
    return CodeStatus(code, "active")
