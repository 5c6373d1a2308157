"""Parser for guidance documents: regulations, MAC articles and the CMS release README.

A document is split at headings and paragraphs into citable passages. Each passage carries
the document title, a section path and a citation:

- regulation text (CFR, U.S.C.) is cited by paragraph label: ``42 CFR 414.40(a)``. Labels
  nest by their kind, (a) > (1) > (i) > (A) in the CFR and (a) > (1) > (A) > (i) in the
  U.S.C.; eCFR-style ``> `` quote markers do not decide it (they do not nest reliably: 45 CFR
  162.1002 puts (a) one level deeper than (b)). A definition ("X means ...") is cited by its
  term, a "[65 FR ...]" line as the source note.
- other documents are cited by heading: ``<citation>, Summary``.

A passage's text is a quotation: its paragraphs as the file has them (quote markers, bullets,
links and emphasis included, wrapped lines joined, whitespace folded), one paragraph a line,
in the file's order, so each line is found verbatim in the file (``source_text``). Labels,
headings and definitions are read from the paragraphs' plain text.

Very short fragments (a heading alone, a "(2)" with nothing after it, one-line list items)
never stand alone when they can join their section: a lead-in joins what follows it, a
short item joins the passage before it. Order is document order.

Formats: ``.md`` (a leading ``<!-- provenance -->`` comment is not text), ``.txt`` (the first
line is the title; short unpunctuated lines are headings), ``.html`` and ``.pdf``.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from assistant.errors import ParseError
from assistant.records import Passage, release_label

# Passages shorter than this (in characters) are fragments that join a neighbour.
MIN_PASSAGE_CHARS = 80
# A line is heading-like when short, unpunctuated at the end and made of few words.
_HEADING_MAX_CHARS = 100
_HEADING_MAX_WORDS = 12
_TERMINAL = ".:;,!?\"'”’)]"

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_QUOTE = re.compile(r"^\s*((?:>\s?)+)(.*)$")
_MD_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
_BULLET = re.compile(r"^(?:-{1,2}|\*|•|·)\s+")
_NUMBERED = re.compile(r"^\d{1,2}(?:\.\)|\.|\))\s+")
_LABEL = re.compile(r"\(([^()\s]{1,6})\)")
_ROMAN = re.compile(r"^(?=[ivxl])(?:xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
_ITALIC_HEAD = re.compile(r"^\s*(\*{1,2}|_)([^*_]+?)\1")
_SOURCE_NOTE = re.compile(r"^\[\d+ FR \d+")
_DEFINITION = re.compile(r"^(?P<term>[A-Z][^.;:]{0,100}?)\s+(?:means|refers to|stands for)\b")
_LEGAL = re.compile(r"\b(?:CFR|USC)\b|\bU\.\s?S\.\s?C\.")
_CFR_CITE = re.compile(r"(\d+)\s+C\.?F\.?R\.?\s+(?:§+\s*)?(\d+\.\d+)")
_CFR_FILE = re.compile(r"^(\d+)-cfr-(\d+)[-.](\d+)(?:-(.*))?$", re.IGNORECASE)
_USC_FILE = re.compile(r"^(\d+)-usc-", re.IGNORECASE)
_SECTION_SIGN = re.compile(r"§+\s*([0-9][0-9A-Za-z.\-–]*[0-9A-Za-z])\.?\s*(.*)$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d+(?:\s+of\s+\d+)?$", re.IGNORECASE)


def parse_guidance(
    path: Path, source_id: str, title: str | None = None, citation: str | None = None
) -> list[Passage]:
    """Split a guidance document (``.md``, ``.txt``, ``.html``, ``.pdf``) into passages.

    ``title`` and ``citation`` (the document's citation, e.g. "42 CFR 414.40") default to
    what the document says of itself: its title line or heading, the CFR section it names,
    or for files named like ``45-cfr-162-1002-...`` the section the name gives.
    """
    suffix = path.suffix.lower()
    if suffix not in {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}:
        raise ParseError(f"{path.name}: unsupported guidance format {suffix or '(none)'}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    if suffix == ".pdf":
        own_title, blocks = _pdf_blocks(data, path.name)
    else:
        text = _decode(data, path.name)
        if suffix in {".md", ".markdown"}:
            own_title, blocks = None, _md_blocks(text)
        elif suffix == ".txt":
            own_title, blocks = _txt_blocks(text)
        else:
            own_title, blocks = _html_blocks(text)
    doc = _document(blocks, path.stem, title, own_title, citation)
    passages = _passages(blocks, doc, source_id)
    if not passages:
        raise ParseError(f"{path.name}: no text to make passages of")
    return passages


def parse_cms_readme(text: str, source_id: str, release: str) -> list[Passage]:
    """Passages of a CMS HCPCS release README, one per paragraph of each section.

    The banner above the first heading (agency, release, date) is not a passage. Each
    statement of "Other HCPCS Notes" (inclusion of a code does not imply coverage; brand
    names are for indexing only) is its own passage, cited as
    "CMS HCPCS <release> README, Other HCPCS Notes".
    """
    name = f"{release_label(release)} README"
    _, blocks = _txt_blocks(text.replace("\x1a", ""), title_line=False)
    first = next((i for i, block in enumerate(blocks) if block.heading), None)
    if first is None:
        raise ParseError(f"{name}: no section headings found")
    doc = _Document(title=name, citation=name, legal=False, nested=False, skip_headings=())
    passages = _passages(blocks[first:], doc, source_id)
    if not passages:
        raise ParseError(f"{name}: no text under its headings")
    return passages


def source_text(data: bytes, name: str) -> str:
    """A guidance file's text as its passages quote it: what a reader of the file sees.

    Markdown and plain text are quoted as written, markers and markup included; a Markdown
    character reference (``&#40;``) is the character it stands for. HTML is its text content
    (tags are not words), a PDF its text layer.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                reader.decrypt("")
            return "\n".join(page.extract_text() or "" for page in reader.pages)
        except Exception as exc:  # pypdf raises many types on damaged files
            raise ParseError(f"{name}: unreadable PDF: {type(exc).__name__}: {exc}") from exc
    text = _decode(data, name)
    if suffix in {".md", ".markdown"}:
        return html.unescape(text)
    if suffix in {".html", ".htm"}:
        words = _HtmlText()
        words.feed(text)
        words.close()
        return "".join(words.parts)
    return text


class _HtmlText(HTMLParser):
    """All the text of an HTML page but its scripts, styles and head; a block tag breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HtmlReader._SKIP:
            self._skip += 1
        elif tag in _HtmlReader._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HtmlReader._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HtmlReader._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


@dataclass(frozen=True)
class _Block:
    """A heading or a paragraph as read from the file, before any structure is applied."""

    text: str
    heading: bool = False
    level: int = 0  # heading level 1-6; 0 in formats without levels (text, PDF)
    depth: int = 0  # quote nesting of a markdown paragraph
    raw: str = ""  # the markdown source of the text, for ``*Paragraph heading.*``
    quote: str = ""  # the paragraph as the file has it (markers, markup), whitespace folded


@dataclass(frozen=True)
class _Document:
    title: str
    citation: str
    legal: bool  # cited by paragraph label (CFR, U.S.C.)
    nested: bool  # uses ``> `` quote markers: an unquoted unlabeled paragraph is top level
    skip_headings: tuple[int, ...]  # indexes of blocks that are document headings


@dataclass(frozen=True)
class _Label:
    kind: str  # "lower", "digit", "roman", "upper"
    token: str
    head: str = ""  # the paragraph's own heading ("General rule"), if it has one


@dataclass(frozen=True)
class _Unit:
    """A paragraph placed in the document: its heading path, labels and definition/note."""

    text: str
    headings: tuple[str, ...]
    labels: tuple[_Label, ...]
    context: str = ""  # a defined term, or "Source note"
    context_kind: str = ""  # "term", "note" or ""
    group: tuple = field(default=(), compare=False)
    quote: str = ""  # the paragraph in the source's words: what a passage quotes


# --- reading formats -------------------------------------------------------------------------


def decode_text(data: bytes, name: str, what: str = "text document") -> str:
    """Bytes of a CMS or MAC text file as text: UTF-8 when valid (a re-saved file must not
    become mojibake), else Windows-1252 as CMS writes; binary data is refused."""
    if b"\x00" in data:
        raise ParseError(f"{name}: binary data, not a {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{name}: not UTF-8 or cp1252 text (byte {exc.start})") from exc
    return text


def _decode(data: bytes, name: str) -> str:
    return decode_text(data, name).replace("\r\n", "\n").replace("\r", "\n")


def _md_blocks(text: str) -> list[_Block]:
    """Headings and paragraphs of markdown; ``>`` markers become a depth, comments vanish."""
    blocks: list[_Block] = []
    buf: list[str] = []
    source: list[str] = []  # the same lines with their quote markers
    depth = 0

    def flush() -> None:
        if buf:
            raw = " ".join(buf)
            quote = _squash(html.unescape(" ".join(source)))
            blocks.append(_Block(_strip_bullet(_md_inline(raw)), depth=depth, raw=raw, quote=quote))
            buf.clear()
            source.clear()

    for line in _COMMENT.sub("", text).split("\n"):
        quote = _MD_QUOTE.match(line)
        line_depth = quote.group(1).count(">") if quote else 0
        content = (quote.group(2) if quote else line).strip()
        if not content or _MD_RULE.match(content):
            flush()
            continue
        heading = _MD_HEADING.match(content)
        if heading:
            flush()
            blocks.append(_Block(_md_inline(heading.group(2)), True, len(heading.group(1))))
            continue
        if buf and (line_depth != depth or _BULLET.match(content) or _NUMBERED.match(content)):
            flush()
        depth = line_depth
        buf.append(content)
        source.append(line)
    flush()
    return [block for block in blocks if block.text]


def _md_inline(text: str) -> str:
    """Plain text of inline markdown: links to their text, emphasis and escapes dropped."""
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*]*?\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?=\S)([^_]*?\S)_(?!\w)", r"\1", text)
    text = text.replace("`", "")
    text = _MD_ESCAPE.sub(r"\1", text)
    return _squash(html.unescape(text))


def _txt_blocks(text: str, title_line: bool = True) -> tuple[str | None, list[_Block]]:
    """Title line, headings and paragraphs of plain text.

    With blank lines in the text, a paragraph runs to the next blank line (its lines were
    wrapped); without any, each line is a paragraph. A line of its own that is short and ends
    without punctuation is a heading.
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    title = None
    if title_line:
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None and _heading_like(lines[first], max_chars=200, max_words=40):
            title = _squash(lines[first])
            lines = lines[first + 1 :]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    paragraphs: list[list[str]] = []
    if any(not line.strip() for line in lines):
        current: list[str] = []
        for line in lines:
            if not line.strip():
                if current:
                    paragraphs.append(current)
                current = []
            elif current and (_BULLET.match(line.strip()) or _NUMBERED.match(line.strip())):
                paragraphs.append(current)
                current = [line]
            else:
                current.append(line)
        if current:
            paragraphs.append(current)
    else:
        paragraphs = [[line] for line in lines if line.strip()]
    blocks = []
    for index, para in enumerate(paragraphs):
        # The last line heads nothing: a short unpunctuated closing line is text.
        last = index == len(paragraphs) - 1
        if len(para) == 1 and not last and _heading_like(para[0]):
            blocks.append(_Block(_squash(para[0]), heading=True))
        else:
            quote = _squash(" ".join(para))
            blocks.append(_Block(_strip_bullet(quote), quote=quote))
    return title, [block for block in blocks if block.text]


class _HtmlReader(HTMLParser):
    """Collects headings and paragraphs from HTML, skipping scripts, styles and the head."""

    _BREAKS = {
        "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "section", "article", "br",
        "dd", "dt", "dl", "pre", "header", "footer", "main", "nav", "aside", "hr", "blockquote",
        "h1", "h2", "h3", "h4", "h5", "h6", "body",
    }  # fmt: skip
    _SKIP = {"script", "style", "noscript", "template", "head", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.title = ""
        self._buf: list[str] = []
        self._skip = 0
        self._in_title = False
        self._level = 0
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BREAKS:
            self._flush()
            if tag[0] == "h" and tag[1:].isdigit():
                self._level = int(tag[1:])
            if tag == "blockquote":
                self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BREAKS:
            self._flush()
            if tag[0] == "h" and tag[1:].isdigit():
                self._level = 0
            if tag == "blockquote":
                self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buf.append(data)

    def _flush(self) -> None:
        text = _squash("".join(self._buf))
        self._buf.clear()
        if text and self._level:
            self.blocks.append(_Block(text, heading=True, level=self._level))
        elif text:
            self.blocks.append(_Block(_strip_bullet(text), depth=self._depth, quote=text))

    def close(self) -> None:
        super().close()
        self._flush()


def _html_blocks(text: str) -> tuple[str | None, list[_Block]]:
    reader = _HtmlReader()
    try:
        reader.feed(text)
        reader.close()
    except Exception as exc:  # html.parser is lenient, but guard the promise of ParseError
        raise ParseError(f"HTML document: unreadable: {exc}") from exc
    title = _squash(reader.title) or None
    return title, reader.blocks


_MAIN = (
    re.compile(r"<main\b[^>]*>(.*)</main\s*>", re.IGNORECASE | re.DOTALL),
    re.compile(r"<article\b[^>]*>(.*)</article\s*>", re.IGNORECASE | re.DOTALL),
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})


def page_blocks(page: str) -> tuple[str | None, list[tuple[int, int, str]]]:
    """A web page's title and its main content as (heading level or 0, quote depth, text).

    Only the page's ``<main>`` (else its ``<article>``) is read when it has one, so that menus,
    banners and footers do not become passages.
    """
    title, _blocks = _html_blocks(page)
    region = next((m.group(1) for rx in _MAIN if (m := rx.search(page))), page)
    _none, blocks = _html_blocks(region)
    return title, [(b.level if b.heading else 0, b.depth, b.text) for b in blocks]


def page_text(page: str, suffix: str, title: str = "") -> str:
    """A web page's main content written as a guidance file of this project (``.md`` or
    ``.txt``), so that it is parsed into passages like the stored copies are.

    Whether the answers' statements survive is checked on the passages parsed from it.
    """
    own_title, blocks = page_blocks(page)
    head = title or own_title or ""
    if suffix.lower() in {".md", ".markdown"}:
        out = [f"# {head}"] if head else []
        for level, depth, text in blocks:
            body = "\\" + text if text[:1] in "#>" else text
            out.append(f"{'#' * max(level, 1)} {body}" if level else "> " * depth + body)
        return "\n\n".join(out) + "\n"
    out = [head] if head else []
    out += [text for _level, _depth, text in blocks]
    return "\n\n".join(out) + "\n"


def statement_found(statement: str, text: str) -> bool:
    """Whether ``text`` says ``statement``: case, typographic quotes and dashes, spacing,
    Markdown escapes and emphasis set aside."""

    def norm(value: str) -> str:
        value = _MD_ESCAPE.sub(r"\1", value).replace("**", "")
        return " ".join(value.translate(_QUOTES).casefold().split())

    return norm(statement) in norm(text)


def _pdf_blocks(data: bytes, name: str) -> tuple[str | None, list[_Block]]:
    """Headings and paragraphs of a PDF's text layer, re-flowed from its wrapped lines."""
    from pypdf import PdfReader  # imported here: only PDF guidance needs it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        meta_title = _squash(str(meta.title)) if meta is not None and meta.title else ""
    except Exception as exc:  # pypdf raises many types on damaged files
        raise ParseError(f"{name}: unreadable PDF: {type(exc).__name__}: {exc}") from exc
    lines = [
        _squash(line)
        for page in pages
        for line in page.split("\n")
        if line.strip() and not _PAGE_NUMBER.match(line.strip())
    ]
    if not lines:
        raise ParseError(f"{name}: PDF without a text layer")
    title = meta_title or None
    if title is None and _heading_like(lines[0], max_chars=200, max_words=40):
        title, lines = lines[0], lines[1:]
    width = max((len(line) for line in lines), default=0)
    blocks: list[_Block] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            quote = " ".join(buf)
            blocks.append(_Block(_strip_bullet(quote), quote=quote))
            buf.clear()

    for line in lines:
        ended = not buf or buf[-1].endswith(tuple(".:;?!"))
        if ended and _heading_like(line):
            flush()
            blocks.append(_Block(line, heading=True))
            continue
        if _BULLET.match(line) or _NUMBERED.match(line) or _LABEL.match(line):
            flush()
        buf.append(line)
        # A sentence ending well short of the text width ends its paragraph.
        if line.endswith(tuple(".:;?!")) and len(line) < 0.8 * width:
            flush()
    flush()
    return title, blocks


def _heading_like(
    line: str, max_chars: int = _HEADING_MAX_CHARS, max_words: int = _HEADING_MAX_WORDS
) -> bool:
    text = line.strip()
    return (
        0 < len(text) <= max_chars
        and len(text.split()) <= max_words
        and text[0].isalnum()
        and text[0] == text[0].upper()
        and not text.endswith(tuple(_TERMINAL))
        and not re.search(r"[.;!?] ", text)  # two sentences are a paragraph
        and not _BULLET.match(text)
        and not _NUMBERED.match(text)
    )


def _strip_bullet(text: str) -> str:
    return _BULLET.sub("", text, count=1)


def _squash(text: str) -> str:
    return " ".join(text.split())


# --- the document and its structure --------------------------------------------------------


def _document(
    blocks: Sequence[_Block],
    stem: str,
    title: str | None,
    own_title: str | None,
    citation: str | None,
) -> _Document:
    """Title, citation and the headings that name the document itself rather than a section."""
    headings = [(i, b) for i, b in enumerate(blocks) if b.heading]
    section_heading = next((hb for hb in headings if "§" in hb[1].text), None)
    legal_cite = _legal_citation(stem, title, [b.text for _, b in headings])
    title = title or own_title or _default_title(stem, legal_cite, section_heading, headings)
    citation = citation or legal_cite or title
    names = [_alnum(name) for name in (title, own_title) if name]
    # Headings at or above the one naming the document (its § heading, or a heading equal to
    # its title) are the document's place in a larger work (title, chapter), not sections.
    doc_level = section_heading[1].level if section_heading is not None else 0
    for _, block in headings:
        if _alnum(block.text) in names:
            doc_level = max(doc_level, block.level)
    skip = {i for i, block in headings if doc_level and block.level <= doc_level}
    if section_heading is not None:
        skip.add(section_heading[0])
    if not doc_level and headings and headings[0][0] == 0 and headings[0][1].level == 1:
        skip.add(0)  # a leading H1 is the document's own heading
    for i, block in headings:
        key = _alnum(block.text)
        # A heading repeating part of the title (the Noridian article's second line) is the
        # document's heading too; "(c) Code sets" is a paragraph label, whatever the title says.
        if key and not block.text.startswith("(") and any(key in name for name in names):
            skip.add(i)
    return _Document(
        title=title,
        citation=citation,
        legal=bool(_LEGAL.search(citation)),
        nested=any(block.depth for block in blocks),
        skip_headings=tuple(sorted(skip)),
    )


def _legal_citation(stem: str, title: str | None, headings: Iterable[str]) -> str | None:
    """The section a regulation file is about: "42 CFR 414.40", "42 U.S.C. 1320d-2"."""
    heads = list(headings)
    for text in [title or "", *heads]:
        match = _CFR_CITE.match(text)  # a title that *is* a section, not one that cites it
        if match:
            return f"{match.group(1)} CFR {match.group(2)}"
    match = _CFR_FILE.match(stem)
    if match:
        return f"{match.group(1)} CFR {match.group(2)}.{match.group(3)}"
    match = _USC_FILE.match(stem)
    if match:
        for text in heads:
            sign = _SECTION_SIGN.search(text)
            if sign:
                return f"{match.group(1)} U.S.C. {_dash(sign.group(1))}"
    return None


def _default_title(
    stem: str,
    legal_cite: str | None,
    section_heading: tuple[int, _Block] | None,
    headings: Sequence[tuple[int, _Block]],
) -> str:
    if legal_cite:
        caption = ""
        if section_heading is not None:
            sign = _SECTION_SIGN.search(section_heading[1].text)
            caption = sign.group(2) if sign else ""
        else:
            match = _CFR_FILE.match(stem)
            caption = (match.group(4) or "").replace("-", " ") if match else ""
        caption = caption.strip().rstrip(".").strip()
        return f"{legal_cite} {caption[:1].upper()}{caption[1:]}".strip()
    if headings:
        return headings[0][1].text
    return stem.replace("-", " ").replace("_", " ").strip() or stem


def _units(blocks: Sequence[_Block], doc: _Document) -> list[_Unit]:
    """Place each paragraph: heading path, nested labels, and definition or note context."""
    units: list[_Unit] = []
    headings: list[tuple[int, str]] = []
    labels: list[_Label] = []
    context, context_kind = "", ""
    for index, block in enumerate(blocks):
        if block.heading:
            if index in doc.skip_headings:
                continue
            tokens, rest = _leading_labels(block.text, labels)
            if tokens:
                # "(c) Code sets" as a heading: a labelled paragraph that has only a heading.
                labels = _push(labels, tokens, rest.strip().rstrip(".").strip())
                context, context_kind = "", ""
                continue
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, block.text))
            labels, context, context_kind = [], "", ""
            continue
        text = block.text
        tokens, rest = _leading_labels(text, labels)
        if tokens:
            labels = _push(labels, tokens, _paragraph_head(block, rest))
        elif _SOURCE_NOTE.match(text):
            labels, context, context_kind = [], "Source note", "note"
        elif (doc.nested and block.depth == 0) or not labels:
            # An unquoted paragraph of a quote-nested document stands at the top level.
            labels = []
            term = _DEFINITION.match(text) if doc.legal else None
            if term and len(term.group("term").split()) <= 8:
                context, context_kind = term.group("term").strip(), "term"
            else:
                context, context_kind = "", ""
        # else: an unlabelled paragraph continues the labelled one before it.
        heading_path = tuple(text for _, text in headings)
        top = "" if context_kind or not labels else labels[0].token
        units.append(
            _Unit(
                text=text,
                headings=heading_path,
                labels=tuple(labels),
                context=context,
                context_kind=context_kind,
                group=(heading_path, context_kind, context, top),
                quote=block.quote or text,
            )
        )
    return units


def _leading_labels(text: str, stack: Sequence[_Label]) -> tuple[list[_Label], str]:
    """The paragraph labels a text starts with ("(a)(1) ..."), and the text after them."""
    found: list[_Label] = []
    position = 0
    while True:
        match = _LABEL.match(text, position)
        if not match:
            break
        kind = _label_kind(match.group(1), [*stack, *found])
        if kind is None:
            break
        found.append(_Label(kind, match.group(1)))
        position = match.end()
    if found and position < len(text) and not (text[position].isspace() or text[position] in "*—-"):
        return [], text  # "(a)bc" is not a label
    return found, text[position:]


def _label_kind(token: str, stack: Sequence[_Label]) -> str | None:
    """Kind of a paragraph label; (i), (v), (x) are letters only right after (h), (u), (w).

    An ambiguous one opening the document is a letter; under a number or a capital (CFR
    (1)(i), U.S.C. (A)(i)) or after another numeral it is a roman numeral.
    """
    if token.isdigit():
        return "digit"
    if token.isalpha() and token.isupper() and len(set(token)) == 1:
        return "upper"
    if not (token.isalpha() and token.islower()):
        return None
    letter = len(set(token)) == 1 and len(token) <= 2
    roman = bool(_ROMAN.match(token))
    if letter and roman:
        previous = stack[-1] if stack else None
        if previous is None:
            return "lower"
        if previous.kind == "lower":
            return "lower" if _next_letter(previous.token) == token else "roman"
        return "roman"
    if roman:
        return "roman"
    return "lower" if letter else None


def _next_letter(token: str) -> str:
    if token[-1] == "z":
        return "a" * (len(token) + 1)
    return chr(ord(token[0]) + 1) * len(token)


def _push(stack: Sequence[_Label], tokens: Sequence[_Label], head: str) -> list[_Label]:
    """The label stack after a labelled paragraph: same kind replaces, a new kind nests."""
    labels = list(stack)
    for label in tokens:
        kinds = [item.kind for item in labels]
        if label.kind in kinds:
            del labels[kinds.index(label.kind) :]
        labels.append(label)
    if head:
        labels[-1] = _Label(labels[-1].kind, labels[-1].token, head)
    return labels


def _paragraph_head(block: _Block, rest: str) -> str:
    """A paragraph's own heading: ``(a) *General rule.*`` or a bare ``(1) In general``."""
    if block.raw:
        raw_rest = _leading_labels(_MD_LINK.sub(r"\1", html.unescape(block.raw)), [])[1]
        match = _ITALIC_HEAD.match(raw_rest)
        if match:
            return _squash(match.group(2)).rstrip(".—-: ").strip()
    rest = rest.strip()
    if rest and len(rest.split()) <= 5 and _heading_like(rest):
        return rest
    return ""


# --- passages ------------------------------------------------------------------------------


def _passages(blocks: Sequence[_Block], doc: _Document, source_id: str) -> list[Passage]:
    units = _units(blocks, doc)
    passages = []
    for order, chunk in enumerate(_merge(units)):
        section, citation = _locate(chunk, doc)
        passages.append(
            Passage(
                source=source_id,
                title=doc.title,
                section=section,
                text="\n".join(unit.quote for unit in chunk),
                citation=citation,
                order=order,
            )
        )
    return passages


def _merge(units: Sequence[_Unit]) -> list[list[_Unit]]:
    """Join fragments to their section: a short lead-in forward, a short item backward."""
    out: list[list[_Unit]] = []
    pending: list[_Unit] = []
    for index, unit in enumerate(units):
        following = units[index + 1] if index + 1 < len(units) else None
        chunk = [*pending, unit]
        short = sum(len(item.text) for item in chunk) < MIN_PASSAGE_CHARS
        if (
            short
            and following is not None
            and following.group == unit.group
            and _within(following.labels, chunk[0].labels)
        ):
            pending = chunk
            continue
        pending = []
        if short and out and out[-1][-1].group == unit.group:
            out[-1].extend(chunk)
        else:
            out.append(chunk)
    return out


def _within(labels: Sequence[_Label], root: Sequence[_Label]) -> bool:
    return _keys(labels[: len(root)]) == _keys(root)


def _keys(labels: Iterable[_Label]) -> tuple[tuple[str, str], ...]:
    return tuple((label.kind, label.token) for label in labels)


def _locate(chunk: Sequence[_Unit], doc: _Document) -> tuple[str, str]:
    """Section path and citation of a passage made of ``chunk``."""
    paths = [unit.labels for unit in chunk]
    # Lead-ins (ancestors of another paragraph in the passage) are context, not its locus.
    keep = [
        path
        for path in paths
        if not any(len(other) > len(path) and _within(other, path) for other in paths)
    ]
    common = list(keep[0])
    for path in keep[1:]:
        size = 0
        while size < min(len(common), len(path)) and _within(path[: size + 1], common[: size + 1]):
            size += 1
        del common[size:]
    first = chunk[0]
    label_text = "".join(f"({label.token})" for label in common)
    head = common[-1].head if common else ""
    if first.context_kind == "term":
        locus = f"{first.context} {label_text}".strip()
    elif first.context_kind == "note":
        locus = first.context
    else:
        locus = f"{label_text} {head}".strip()
    section = " > ".join([*first.headings, locus] if locus else first.headings)
    base = doc.citation
    if doc.legal and first.context_kind == "term":
        citation = f'{base}, definition of "{first.context}"'
        if label_text:
            citation += f", paragraph {label_text}"
    elif doc.legal and first.context_kind == "note":
        citation = f"{base}, source note"
    elif doc.legal and label_text:
        citation = _append_labels(base, label_text)
    else:
        citation = f"{base}, {section}" if section else base
    return section, citation


def _append_labels(base: str, labels: str) -> str:
    """``42 U.S.C. 1320d-2(c)`` + ``(c)(1)`` -> ``42 U.S.C. 1320d-2(c)(1)``: no label twice."""
    tail = re.search(r"((?:\([^()\s]+\))+)$", base)
    if tail and labels.startswith(tail.group(1)):
        return base + labels[len(tail.group(1)) :]
    return base + labels


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _dash(text: str) -> str:
    return text.replace("–", "-").replace("—", "-")
