"""A tiny corpus the tests write themselves: fixed-width records, a layout, notes, a NOC list,
guidance, and a sources.toml naming them with their real sha256s."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

from assistant.bench.chat_load import free_port  # noqa: F401 - the tests take it from here
from assistant.corpus.release import FIELDS


def record(
    code: str,
    long: str,
    short: str = "",
    *,
    modifier: bool = False,
    seq: int = 1,
    coverage: str = "",
    pricing: str = "",
    note: str = "",
    add: str = "20000101",
    action_date: str = "20000101",
    term: str = "",
    action: str = "N",
) -> list[str]:
    """The 320-column lines of one code or modifier: a first line and continuation lines."""
    chunks = _wrap(long, 80)
    key = f"   {code}" if modifier else code
    first_id, cont_id = ("7", "8") if modifier else ("3", "4")
    line = [" "] * 320

    def put(field: str, value: str) -> None:
        _name, beg, end, _occ = FIELDS[field]
        width = end - beg + 1
        line[beg - 1 : beg - 1 + min(len(value), width)] = list(value[:width])

    put("code", key)
    put("sequence", f"{seq:03d}00")
    put("record_id", first_id)
    put("long_description", chunks[0])
    put("short_description", short or long[:28])
    put("pricing", pricing)
    put("coverage", coverage)
    put("note", note)
    put("add_date", add)
    put("action_date", action_date)
    put("termination_date", term)
    put("action", action)
    lines = ["".join(line)]
    for n, chunk in enumerate(chunks[1:], 2):
        cont = f"{key}{n:03d}00{cont_id}{chunk.ljust(80)}"
        lines.append(cont.ljust(320))
    return lines


def _wrap(text: str, width: int) -> list[str]:
    words, chunks, cur = text.split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            chunks.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    chunks.append(cur)
    return chunks


def layout_text() -> str:
    """A record layout in the CMS format, with the positions the parser expects."""
    out = ["  CMS RIF REPORT", ""]
    tables = {
        "coverage": [
            "C = Carrier judgment",
            "D = Special coverage instructions apply",
            "M = Non-covered by Medicare",
        ],
        "action": [
            "A = Add procedure or modifier code",
            "D = Discontinue procedure or modifier",
            "        code",
            "N = No maintenance for this code",
        ],
        "pricing": [
            "00 = Service not separately priced by part B",
            "Clinical Lab Fee Schedule",
            "-------------------------",
            "36 = Capped rental DME (price subject to",
            "     floors and ceilings)",
        ],
    }
    for n, (key, (name, beg, end, _occ)) in enumerate(FIELDS.items(), 1):
        out.append(f"  {n}.   {name}")
        out.append(f"{end - beg + 1:>34}{beg:>7}{end:>6}    CHAR")
        out.append("")
        if key in tables:
            out.append(" " * 52 + "CODES         :")
            for entry in tables[key]:
                out.append(" " * 55 + entry)
            out.append("")
        out.append(" " * 52 + "LENGTH         : 1")
        out.append("")
    return "\r\n".join(out) + "\r\n"


NOTES = (
    "                                        PROCESSING NOTES\r\n\r\n"
    "          0013--THIS DEVICE (E0194) SHOULD NOT BE CONFUSED WITH E0193 POWERED     *\r\n"
    "                FLOTATION THERAPY BED.                                             *\r\n"
    "                                                                                   *\r\n"
)

NOC_PRN = (
    "                     NOC CODES - HCPCS 2099\r\n\r\n"
    "  HCPCS  LONG DESCRIPTION                                    ADD DATE  TERM DATE\r\n\r\n"
    "  E1399  Durable medical equipment, miscellaneous            19900101\r\n"
)

GUIDANCE = (
    "Tiny Compliance Guidance\n"
    "Overview\n"
    "HCPCS Level II codes are product-agnostic and describe categories of like items.\n"
    "Coverage\n"
    '"The existence of a code does not, of itself, determine coverage or non-coverage for an '
    'item/service."\n'
)

RECORDS = [
    *record(
        "E0601",
        "Continuous positive airway pressure (cpap) device",
        "Cont airway pressure device",
        coverage="D",
        pricing="36",
        add="19880101",
    ),
    *record(
        "E0562",
        "Humidifier, heated, used with positive airway pressure device",
        "Humidifier heated used w pap",
        coverage="D",
        pricing="36",
    ),
    *record("E0194", "Air fluidized bed", coverage="D", note="0013"),
    *record(
        "E1399",
        "Durable medical equipment, miscellaneous",
        "Durable medical equipment misc",
        coverage="C",
    ),
    *record(
        "A4397",
        "Irrigation supply; sleeve, each",
        "Irrigation supply sleeve",
        coverage="D",
        term="20211231",
        action="D",
    ),
    *record(
        "G0999",
        "Long test descriptor that needs more than one line of the fixed width "
        "record to hold its words, continued on a second record line",
        "Long test",
    ),
    # Siblings that differ in one part (the answer compares them and may ask which).
    *record(
        "E0260",
        "Hospital bed, semi-electric (head and foot adjustment), with any type side rails, "
        "with mattress",
        "Hosp bed semi-electr w/ matt",
        coverage="D",
    ),
    *record(
        "E0261",
        "Hospital bed, semi-electric (head and foot adjustment), with any type side rails, "
        "without mattress",
        "Hosp bed semi-electr w/o mat",
        coverage="D",
    ),
    # A dose-restructured drug: the "40 mg" code replaced the day after by a "1 mg" code.
    *record(
        "J1030",
        "Injection, methylprednisolone acetate, 40 mg",
        "Methylprednisolone 40 mg inj",
        coverage="C",
        term="20980331",
        action="D",
    ),
    *record(
        "J1010",
        "Injection, methylprednisolone acetate, 1 mg",
        "Inj, methylpred acetate 1 mg",
        coverage="C",
        add="20980401",
    ),
    *record(
        "KX",
        "Requirements specified in the medical policy have been met",
        "Documentation on file",
        modifier=True,
    ),
]


def _release_zip(path: Path, year: str, lines: list[str], header: str = "") -> None:
    data = (header + "\r\n".join(lines) + "\r\n").encode("cp1252")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"HCPC{year}_JAN_ANWEB_TEST.txt", data)
        zf.writestr(f"HCPC{year}_recordlayout.txt", layout_text().encode("cp1252"))
        zf.writestr(f"proc_notes_JAN{year}.txt", NOTES.encode("cp1252"))
        zf.writestr(f"NOC_Codes_{year}.prn", NOC_PRN.encode("cp1252"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_corpus(root: Path, extra_records: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write a mirror folder and its sources.toml under ``root``; returns (mirror, manifest).

    ``extra_records`` (lines from ``record``) join the newest release."""
    mirror = root / "mirror"
    (mirror / "cms-hcpcs" / "2098-01").mkdir(parents=True)
    (mirror / "cms-hcpcs" / "2099-01").mkdir(parents=True)
    (mirror / "guidance").mkdir(parents=True)
    old = [ln for ln in RECORDS if not ln.startswith("E0562")]
    old = [ln.replace("20211231", "        ") if ln.startswith("A4397") else ln for ln in old]
    _release_zip(
        mirror / "cms-hcpcs/2098-01/hcpcs-2098.zip",
        "2098",
        old,
        header="Disclaimer line before the records\r\n\r\n",
    )
    _release_zip(mirror / "cms-hcpcs/2099-01/hcpcs-2099.zip", "2099", [*RECORDS, *extra_records])
    (mirror / "guidance" / "tiny.txt").write_text(GUIDANCE, encoding="utf-8")
    entries = [
        ("hcpcs-2098-01", "cms-hcpcs-release", "cms-hcpcs/2098-01/hcpcs-2098.zip", "2098-01"),
        ("hcpcs-2099-01", "cms-hcpcs-release", "cms-hcpcs/2099-01/hcpcs-2099.zip", "2099-01"),
        ("tiny-guidance", "guidance", "guidance/tiny.txt", ""),
    ]
    toml = []
    for sid, kind, rel_path, release in entries:
        toml += [
            "[[source]]",
            f'id = "{sid}"',
            f'kind = "{kind}"',
            'role = "archive"' if release else 'citation = "Tiny Compliance Guidance"',
            f'release = "{release}"' if release else "",
            f'effective = "{release}-01"' if release else "",
            f'title = "{sid}"',
            f'file = "{Path(rel_path).name}"',
            f'path = "{rel_path}"',
            f'sha256 = "{_sha(mirror / rel_path)}"',
            'url = "https://example.invalid/not-used"',
            "",
        ]
    manifest = root / "sources.toml"
    manifest.write_text("\n".join(toml), encoding="utf-8")
    return mirror, manifest


def fixture_env(
    root: Path, fetched: bool = True, extra_records: Sequence[str] = ()
) -> dict[str, str]:
    """HCPCS_* variables for the fixture corpus written under ``root`` (and fetched into
    ``root/raw`` unless ``fetched`` is False), with the deterministic hash embedder."""
    from assistant.corpus.sources import fetch, load_sources

    mirror, manifest = write_corpus(root, extra_records)
    if fetched:
        fetch(load_sources(manifest), root / "raw", mirror)
    return {
        "HCPCS_CORPUS_DIR": str(root / "raw"),
        "HCPCS_INDEX_DIR": str(root / "index"),
        "HCPCS_SOURCES": str(manifest),
        "HCPCS_MODEL": "hash-embedder",
    }


def wait_for_http(url: str, proc, log: Path, seconds: float) -> None:
    """Wait until ``url`` answers; fail the test with the server's log if it exits or is slow."""
    import pytest

    from assistant.bench.chat_load import UiLoadError
    from assistant.bench.chat_load import wait_for_http as wait

    try:
        wait(url, proc, seconds)
    except UiLoadError as exc:
        proc.kill()
        pytest.fail(f"{exc}: {log.read_text()[-800:]}")


def assert_one_line_error(result, code: int, *words: str) -> None:
    """A CliRunner result that failed with exit ``code`` and one "Error: " line, no traceback."""
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    # Progress lines may come first; the error is one line, the last, and no traceback.
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in errors[0], errors[0]
