"""The PDF content-stream reader: text placed by the operators, on hand-made pages, and
parity with pypdf's own text extraction on the real 2019 Table of Drugs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from assistant.corpus.pdftext import Chunk, page_chunks

# Every glyph 500/1000 of the font size wide, the space 250: a 10 pt glyph advances 5 pt.
WIDTHS = [250] + [500] * 94  # /FirstChar 32 .. /LastChar 126


def page(content: bytes, widths: list[int] = WIDTHS, missing_width: int | None = None):
    """A one-page PDF, written byte by byte, drawing ``content`` with font /F1 (WinAnsi)."""
    descriptor = f" /FontDescriptor << /MissingWidth {missing_width} >>" if missing_width else ""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        (
            "<< /Type /Font /Subtype /TrueType /BaseFont /Arial /FirstChar 32 "
            f"/LastChar {31 + len(widths)} /Widths [{' '.join(map(str, widths))}] "
            f"/Encoding /WinAnsiEncoding{descriptor} >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    reader = PdfReader(io.BytesIO(bytes(out)))
    return reader.pages[0], reader


def chunks(content: bytes, **font) -> list[Chunk]:
    return page_chunks(*page(content, **font))


def test_a_string_is_placed_by_the_text_matrix_and_spans_its_glyph_widths():
    assert chunks(b"BT /F1 10 Tf 1 0 0 1 72 700 Tm (Abc) Tj ET") == [
        Chunk(72.0, 87.0, 700.0, "Abc")
    ]


def test_tj_numbers_move_the_next_glyph_back_by_thousandths_of_the_size():
    (chunk,) = chunks(b"BT /F1 10 Tf 72 700 Td [(A) -1000 (B) 500 (C)] TJ ET")
    # A 5 pt, then 10 pt to the right, B 5 pt, 5 pt back, C 5 pt.
    assert (chunk.x0, chunk.x1, chunk.text) == (72.0, 92.0, "ABC")


def test_line_moves_td_tstar_tl_and_td_with_leading():
    got = chunks(
        b"BT /F1 10 Tf 72 700 Td (a) Tj 0 -14 Td (b) Tj 20 TL T* (c) Tj "
        b"10 -12 TD (d) Tj T* (e) Tj ET"
    )
    assert [(c.x0, c.y, c.text) for c in got] == [
        (72.0, 700.0, "a"),
        (72.0, 686.0, "b"),
        (72.0, 666.0, "c"),
        (82.0, 654.0, "d"),  # TD sets the leading to 12 as well
        (82.0, 642.0, "e"),
    ]


def test_quote_operators_move_to_the_next_line_first():
    got = chunks(b"BT /F1 10 Tf 14 TL 72 700 Td (a) Tj (b) ' 3 1 (c d) \" ET")
    assert [(c.x0, c.y, c.text) for c in got] == [
        (72.0, 700.0, "a"),
        (72.0, 686.0, "b"),
        (72.0, 672.0, "c d"),
    ]
    # " sets word spacing 3 and character spacing 1: 6 + (2.5 + 1 + 3) + 6.
    assert got[2].x1 == pytest.approx(72.0 + 18.5)


def test_graphics_matrix_scales_and_moves_text_and_q_restores_it():
    got = chunks(
        b"q 2 0 0 2 10 20 cm BT /F1 10 Tf 5 5 Td (A) Tj ET Q BT /F1 10 Tf 5 5 Td (B) Tj ET"
    )
    assert got == [Chunk(20.0, 30.0, 30.0, "A"), Chunk(5.0, 10.0, 5.0, "B")]


def test_character_word_spacing_and_horizontal_scaling_widen_the_advance():
    (chunk,) = chunks(b"BT /F1 10 Tf 2 Tc 3 Tw 50 Tz 0 0 Td (a b) Tj ET")
    # (5 + 2) * 0.5 + (2.5 + 2 + 3) * 0.5 + (5 + 2) * 0.5
    assert chunk.x1 == pytest.approx(10.75)


def test_invisible_text_is_skipped_but_still_advances():
    got = chunks(b"BT /F1 10 Tf 72 700 Td 3 Tr (tab) Tj 0 Tr (shown) Tj ET")
    assert got == [Chunk(87.0, 112.0, 700.0, "shown")]


def test_winansi_bytes_are_decoded_as_cp1252():
    (chunk,) = chunks(b"BT /F1 10 Tf 0 0 Td (5\x96 10 mg \x93x\x94) Tj ET")
    assert chunk.text == "5\u2013 10 mg \u201cx\u201d"


def test_a_glyph_outside_the_widths_takes_the_missing_width():
    (chunk,) = chunks(b"BT /F1 10 Tf 0 0 Td (\xe9) Tj ET", missing_width=300)
    assert chunk.x1 == pytest.approx(3.0)
    (chunk,) = chunks(b"BT /F1 10 Tf 0 0 Td (\xe9) Tj ET")  # no descriptor: 500
    assert chunk.x1 == pytest.approx(5.0)


def test_a_page_without_content_has_no_chunks():
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    data = io.BytesIO()
    writer.write(data)
    reader = PdfReader(io.BytesIO(data.getvalue()))
    assert page_chunks(reader.pages[0], reader) == []


@pytest.mark.integration
def test_parity_with_pypdf_on_every_page_of_the_2019_table(corpus_dir: Path):
    """The reader gives the text pypdf extracts, glyph for glyph and in the same order, on
    every page; it adds only where each piece stands."""
    path = corpus_dir / "table-of-drugs" / "2019-Table-of-Drugs.pdf"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    reader = PdfReader(path)
    for number, pdf_page in enumerate(reader.pages, 1):
        ours = "".join("".join(c.text for c in page_chunks(pdf_page, reader)).split())
        theirs = "".join(pdf_page.extract_text().split())
        assert ours == theirs, f"page {number}"
    assert number == 35
