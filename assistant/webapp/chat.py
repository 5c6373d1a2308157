"""The chat page: an answer's fields rendered as cards, notices and citations, and the
conversation kept as turns so that no answer is lost when a run is interrupted.

Streamlit stops a script run when new input arrives. A question is therefore recorded as a
pending turn before it is answered, and every run answers the pending turns in order before
it reads new input: a question sent while the previous one was still being answered gets its
answer on the next run, and the conversation always reads question, answer, question, answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from assistant.answer import AskOptions, Conversation, ask
from assistant.errors import HcpcsError
from assistant.records import Answer, Citation, CodeRecord, Units, release_label
from assistant.render import conversation_markdown
from assistant.retrieval import Retriever
from assistant.webapp.loader import Loader, text

# How each notice is shown; a notice id not listed here is shown as information.
NOTICE_STYLE = {
    "no-evidence": "warning",
    "terminated": "error",
    "not-yet-valid": "error",
    "noc": "info",
    "coverage": "info",
    "product-agnostic": "warning",
    "release-behind": "warning",
}


@dataclass
class ChatTurn:
    """A question and, once answered, its answer (or the error it got)."""

    question: str
    options: AskOptions
    answer: Answer | None = None
    error: str | None = None

    @property
    def pending(self) -> bool:
        return self.answer is None and self.error is None


@dataclass
class ChatState:
    """The session's conversation: its turns and the follow-up context after the last answer."""

    turns: list[ChatTurn] = field(default_factory=list)
    conversation: Conversation = field(default_factory=Conversation)

    def clear(self) -> None:
        self.turns.clear()
        self.conversation = Conversation()

    def answer(self, turn: ChatTurn, retriever: Retriever) -> None:
        """Answer one turn and store the answer at once; the conversation moves on with it."""
        try:
            turn.answer, self.conversation = ask(
                retriever, turn.question, self.conversation, turn.options
            )
        except HcpcsError as exc:
            turn.error = str(exc)

    def as_markdown(self) -> str:
        return conversation_markdown(
            [(t.question, t.answer if t.answer is not None else t.error or "") for t in self.turns]
        )


def state() -> ChatState:
    return st.session_state.setdefault("chat", ChatState())


def render_code(record: CodeRecord, best: bool) -> None:
    with st.container(border=True):
        rank = "Best match" if best else "Other candidate"
        status = record.status_text.upper() if record.terminated else record.status_text
        st.markdown(
            f"{rank} · **{record.kind.capitalize()} {text(record.code)}** · "
            f"{text(record.source_label)} · {text(status)}"
        )
        st.markdown(f"“{text(record.long_description)}”")
        details = []
        if record.coverage_code:
            details.append(f"Coverage code {record.coverage_code}: {record.coverage_meaning}")
        if record.noc:
            details.append("NOC: not otherwise classified")
        if record.add_date:
            details.append(f"added {record.add_date.isoformat()}")
        if details:
            st.caption(text(" · ".join(details)))


def render_units(units: Units | None, evidence: list[Citation]) -> None:
    """Under a code's card (the best match's, as a rule): the drug name's crosswalk row (or
    Table of Drugs line), then the claim lines as a small table with the arithmetic beneath
    (nothing when no number could be given: the remark above says why)."""
    for c in evidence:
        st.caption(text(f"{c.text} ({c.source})"))
    if units is None or units.units is None:
        return
    st.table(
        [
            {
                "HCPCS/Modifier": f"{line.code} {line.modifier}".strip(),
                "Units billed": line.units,
            }
            for line in units.lines
        ]
    )
    st.caption(text(units.arithmetic))


def render_answer(answer: Answer) -> None:
    """The answer's fields: the release it is answered from, remarks, code cards (the billing
    units under the card of their code), notices (a codebook behind the date of service among
    them), then the cited guidance."""
    st.caption(text(f"Answered from {release_label(answer.release)}"))
    for remark in answer.remarks:
        st.caption(text(remark))
    for n, record in enumerate(answer.codes):
        render_code(record, best=n == 0)
        # The drug name's row and the claim lines under the card of the code they are for.
        evidence = [
            c for c in answer.citations_of("crosswalk", "drug-table") if c.supports == record.code
        ]
        units = answer.units if answer.units and answer.units.code == record.code else None
        if evidence or units:
            render_units(units, evidence)
    if answer.differences:
        st.caption("How they differ, from their descriptors:")
        st.table(
            [
                {
                    "code": d.code,
                    "what sets it apart": "; ".join(d.phrases),
                    "compared with": d.against,
                }
                for d in answer.differences
            ]
        )
    for notice in answer.notices:
        getattr(st, NOTICE_STYLE.get(notice.id, "info"))(text(notice.text))
    cited = [c for c in answer.citations if c.kind != "descriptor"]
    if cited:
        with st.expander(f"Cited guidance ({len(cited)})"):
            for c in cited:
                st.markdown(f"**{text(c.source)}**, {text(c.locator)}")
                # One unit of the quotation (a paragraph, a layout entry) a line.
                st.markdown("\n>\n".join(f"> {text(unit)}" for unit in c.text.split("\n")))
    if answer.clarify:
        # The closing line: the coder's reply ("without") is read as its answer.
        st.markdown(f"**{text(answer.clarify)}**")


def render_turns(chat: ChatState, load: Loader) -> None:
    """Every turn in order; a pending one is answered where it stands, then shown."""
    for turn in chat.turns:
        with st.chat_message("user"):
            st.markdown(text(turn.question))
        with st.chat_message("assistant"):
            if turn.pending:
                try:
                    with st.spinner("Reading the codebook…"):
                        chat.answer(turn, load.ready())
                except HcpcsError as exc:  # the index could not be loaded
                    turn.error = str(exc)
            if turn.answer is not None:
                render_answer(turn.answer)
            else:
                st.warning(text(turn.error or ""))


def lookup_panel(retriever: Retriever) -> None:
    """Code -> full record in every release, from the record store (no model needed)."""
    code = st.sidebar.text_input("Look up a code", placeholder="E0601 or KX", max_chars=12)
    if not code.strip():
        return
    try:
        records = retriever.book.lookup(code)
    except HcpcsError as exc:
        st.sidebar.error(text(str(exc)))
        return
    latest = records[-1]
    status = latest.status_text.upper() if latest.terminated else latest.status_text
    st.sidebar.markdown(f"**{text(latest.code)}** · {text(status)}")
    for record in records:
        st.sidebar.markdown(f"{text(record.source_label)}: “{text(record.long_description)}”")
    if latest.coverage_code:
        st.sidebar.caption(text(f"Coverage code {latest.coverage_code}: {latest.coverage_meaning}"))
    if latest.processing_note:
        st.sidebar.caption(
            text(f"Processing note {latest.processing_note_number}: {latest.processing_note}")
        )
