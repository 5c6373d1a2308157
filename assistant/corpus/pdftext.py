"""Text placed on a PDF page, read from its content stream: each chunk with its start and end
x and its baseline y, in PDF points.

pypdf's own ``extract_text`` gives a page's text in reading order but not where each piece
stands, and a table's columns are only told apart by where text stands. This walks the page's
content stream as a PDF viewer does: the graphics state's matrix (``cm``, ``q``/``Q``), the text
matrix (``BT``, ``Tm``, ``Td``/``TD``, ``T*``, ``TL``) and the text state (``Tf``, ``Tc``, ``Tw``,
``Tz``, ``Tr``), and advances over each string by the font's glyph widths (``Tj``, ``TJ``, ``'``
and ``"``), so that a chunk's end is known as well as its start.

What it reads: simple (single-byte) fonts drawn directly in the page content, decoded by
their base encoding (WinAnsi as cp1252, MacRoman; others byte for byte). Text inside form
XObjects or in composite (two-byte) fonts is not read, and invisible text (render mode 3,
which Word uses for its tab stops) is skipped. A test holds the text it reads to pypdf's own
extraction of the 2019 Table of Drugs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pypdf import PageObject, PdfReader
from pypdf.generic import ByteStringObject, ContentStream, TextStringObject


@dataclass(frozen=True)
class Chunk:
    """A run of text drawn by one operator: its start and end x and its baseline y (points)."""

    x0: float
    x1: float
    y: float
    text: str


@dataclass
class _TextState:
    """The parts of the graphics state that place text; saved and restored by q/Q."""

    ctm: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    font: _Font | None = None
    size: float = 1.0
    char_spacing: float = 0.0
    word_spacing: float = 0.0
    scale: float = 1.0
    leading: float = 0.0
    render: int = 0

    def copy(self) -> _TextState:
        return replace(self)


@dataclass(frozen=True)
class _Font:
    """A simple (single-byte) font: glyph widths and a byte decoding."""

    first_char: int
    widths: tuple[float, ...]
    encoding: str
    missing_width: float

    def width(self, code: int) -> float:
        index = code - self.first_char
        if 0 <= index < len(self.widths):
            return self.widths[index]
        return self.missing_width


def _mul(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    """Product of two PDF matrices [a b c d e f] (a applied first)."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def _deref(obj: object) -> object:
    """The object an indirect reference points to (pypdf's dict ``get`` does not follow them)."""
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _load_fonts(page: PageObject) -> dict[str, _Font]:
    resources = _deref(page.get("/Resources")) or {}
    fonts = _deref(resources.get("/Font")) or {}  # type: ignore[attr-defined]
    result: dict[str, _Font] = {}
    for name, ref in fonts.items():  # type: ignore[attr-defined]
        font = _deref(ref)
        encoding = _deref(font.get("/Encoding"))
        if hasattr(encoding, "get"):
            encoding = _deref(encoding.get("/BaseEncoding"))
        # The table's fonts are TrueType with WinAnsiEncoding (cp1252); a font without an
        # encoding is read the same way, and other encodings byte for byte (latin-1).
        codec = {
            "/WinAnsiEncoding": "cp1252",
            "/MacRomanEncoding": "mac_roman",
            "None": "cp1252",
        }.get(str(encoding), "latin-1")
        descriptor = _deref(font.get("/FontDescriptor"))
        missing = float(_deref(descriptor.get("/MissingWidth")) or 0) if descriptor else 0.0
        widths = tuple(float(w) for w in (_deref(font.get("/Widths")) or ()))
        result[str(name)] = _Font(
            first_char=int(_deref(font.get("/FirstChar")) or 0),
            widths=widths,
            encoding=codec,
            missing_width=missing or 500.0,
        )
    return result


def _string_bytes(obj: object) -> bytes | None:
    """Raw bytes of a content-stream string operand; None for a number."""

    if isinstance(obj, ByteStringObject):
        return bytes(obj)
    if isinstance(obj, TextStringObject):
        return obj.get_original_bytes()
    if isinstance(obj, bytes):
        return obj
    return None


def page_chunks(page: PageObject, reader: PdfReader) -> list[Chunk]:
    """Visible text chunks of one page, each placed at its start and end x and baseline y.

    Only start positions are needed to build columns, but the end (from the font widths) is
    what tells two touching chunks of one cell from two cells with a gap between them.
    """
    contents = page.get_contents()
    if contents is None:
        return []
    fonts = _load_fonts(page)
    stream = ContentStream(contents, reader)
    state = _TextState()
    stack: list[_TextState] = []
    tm: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    tlm = tm
    chunks: list[Chunk] = []
    for operands, operator in stream.operations:
        op = operator.decode("latin-1") if isinstance(operator, bytes) else str(operator)
        if op == "q":
            stack.append(state.copy())
        elif op == "Q":
            state = stack.pop() if stack else _TextState()
        elif op == "cm" and len(operands) == 6:
            state.ctm = _mul([float(v) for v in operands], state.ctm)
        elif op == "BT":
            tm = tlm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        elif op == "Tm" and len(operands) == 6:
            tm = tlm = tuple(float(v) for v in operands)
        elif op in ("Td", "TD") and len(operands) == 2:
            tx, ty = float(operands[0]), float(operands[1])
            if op == "TD":
                state.leading = -ty
            tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, tx, ty), tlm)
        elif op == "T*":
            tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, -state.leading), tlm)
        elif op == "TL" and operands:
            state.leading = float(operands[0])
        elif op == "Tc" and operands:
            state.char_spacing = float(operands[0])
        elif op == "Tw" and operands:
            state.word_spacing = float(operands[0])
        elif op == "Tz" and operands:
            state.scale = float(operands[0]) / 100.0
        elif op == "Tr" and operands:
            state.render = int(operands[0])
        elif op == "Tf" and len(operands) == 2:
            state.font = fonts.get(str(operands[0]))
            state.size = float(operands[1])
        elif op in ("Tj", "TJ", "'", '"') and operands:
            if op in ("'", '"'):
                if op == '"' and len(operands) == 3:
                    state.word_spacing = float(operands[0])
                    state.char_spacing = float(operands[1])
                tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, -state.leading), tlm)
            parts = operands[0] if op == "TJ" else [operands[-1]]
            start = _mul(tm, state.ctm)
            advance, raw = _advance(parts, state)
            tm = _mul((1.0, 0.0, 0.0, 1.0, advance, 0.0), tm)
            # Render mode 3 is invisible text: Word emits its tab stops that way.
            if state.render == 3 or not raw:
                continue
            end = _mul(tm, state.ctm)
            codec = state.font.encoding if state.font else "cp1252"
            text = raw.decode(codec, errors="replace")
            chunks.append(Chunk(start[4], end[4], start[5], text))
    return chunks


def _advance(parts: Iterable[object], state: _TextState) -> tuple[float, bytes]:
    """Horizontal advance (text space) of a TJ array or string, and its bytes."""
    advance = 0.0
    raw = b""
    for part in parts:
        data = _string_bytes(part)
        if data is None:
            try:
                advance -= float(part) / 1000.0 * state.size * state.scale  # type: ignore[arg-type]
            except (TypeError, ValueError):
                pass
            continue
        raw += data
        for code in data:
            glyph = state.font.width(code) if state.font else 500.0
            spacing = state.char_spacing + (state.word_spacing if code == 32 else 0.0)
            advance += (glyph / 1000.0 * state.size + spacing) * state.scale
    return advance, raw
