"""The Streamlit chat for coders. UI only: every answer comes from assistant.answer.ask.

Nothing is written to disk: the conversation lives in the session (coders may paste patient
details); the download button is the only way it leaves the page. Corpus and user text is
rendered as text (Markdown-escaped), never as HTML.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from assistant.answer import MAX_QUESTION_CHARS, AskOptions, Conversation, ask
from assistant.errors import HcpcsError
from assistant.records import Answer, CodeRecord
from assistant.retrieval import Filters, Retriever
from assistant.ui import loader_or_stop, text

MAX_INPUT_CHARS = 4 * MAX_QUESTION_CHARS
SECTIONS = list("ABCEGHJKLMPQRSTUV") + ["modifier"]


def status_line(record: CodeRecord) -> str:
    if record.termination_date is not None:
        return f"TERMINATED {record.termination_date.isoformat()}"
    return "active"


def render_answer(answer: Answer) -> None:
    notices = set(answer.notices)
    if "no-evidence" in notices:
        st.warning("No relevant code found. " + text(answer.text.splitlines()[-1]))
        return
    for line in answer.text.splitlines():
        if line.startswith(("(Read as a follow-up", "Your question was")):
            st.caption(text(line))
    for n, record in enumerate(answer.codes):
        with st.container(border=True):
            label = "Modifier" if record.kind == "modifier" else "Code"
            rank = "Best match" if n == 0 else "Other candidate"
            st.markdown(
                f"{rank} · **{label} {text(record.code)}** · CMS HCPCS "
                f"{text(record.release)} · {text(status_line(record))}"
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
    if "terminated" in notices:
        for line in answer.text.splitlines():
            if line.startswith(("Terminated:", "Not yet valid:")):
                st.error(text(line))
    if "noc" in notices:
        st.info(text(next(ln for ln in answer.text.splitlines() if ln.startswith("Not otherwise"))))
    if "coverage" in notices:
        st.info(
            "Coverage: the existence of a HCPCS code does not, of itself, determine coverage or "
            "payment."
        )
    if "product-agnostic" in notices:
        st.warning(text(next(ln for ln in answer.text.splitlines() if ln.startswith("Products"))))
    guidance = [c for c in answer.citations if not c.source.startswith("CMS HCPCS 20")]
    if guidance:
        with st.expander(f"Cited guidance ({len(guidance)})"):
            for c in guidance:
                st.markdown(f"**{text(c.source)}**, {text(c.locator)}")
                st.markdown(f"> {text(c.text)}")


def as_markdown(messages: list[dict]) -> str:
    out = ["# hcpcs-assistant conversation", ""]
    for m in messages:
        if m["role"] == "user":
            out += [f"**Question:** {m['content']}", ""]
            continue
        answer: Answer | None = m.get("answer")
        out += [m["content"], ""]
        if answer is not None and answer.citations:
            out.append("Sources:")
            out += [f"- {c.source}, {c.locator}: “{c.text}”" for c in answer.citations]
            out.append("")
    return "\n".join(out)


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
    st.sidebar.markdown(f"**{text(latest.code)}** · {text(status_line(latest))}")
    for record in records:
        st.sidebar.markdown(f"CMS HCPCS {text(record.release)}: “{text(record.long_description)}”")
    if latest.coverage_code:
        st.sidebar.caption(text(f"Coverage code {latest.coverage_code}: {latest.coverage_meaning}"))
    if latest.processing_note:
        st.sidebar.caption(
            text(f"Processing note {latest.processing_note_number}: {latest.processing_note}")
        )


def main() -> None:
    st.set_page_config(page_title="hcpcs-assistant", page_icon="📘")
    st.title("HCPCS Level II coding assistant")
    load = loader_or_stop()
    retriever = load.retriever
    release = retriever.releases[-1]
    st.sidebar.markdown(
        f"**Release in use:** CMS HCPCS {release.id} (effective {release.effective.isoformat()})"
    )
    use_date = st.sidebar.checkbox("Date of service")
    day = st.sidebar.date_input("Date", value=date.today(), disabled=not use_date)
    sections = st.sidebar.multiselect("Sections", SECTIONS)
    top = st.sidebar.slider("Candidates", 1, 10, 5)
    if st.sidebar.button("New conversation"):
        st.session_state.messages = []
        st.session_state.conversation = Conversation()
    lookup_panel(retriever)

    messages: list[dict] = st.session_state.setdefault("messages", [])
    conversation: Conversation = st.session_state.setdefault("conversation", Conversation())
    for m in messages:
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.markdown(text(m["content"]))
            elif m.get("answer") is not None:
                render_answer(m["answer"])
            else:
                st.warning(text(m["content"]))

    question = st.chat_input("Ask about a code, an item, a drug or a modifier")
    if question is not None and question.strip():
        if len(question) > MAX_INPUT_CHARS:
            with st.chat_message("assistant"):
                st.warning(
                    f"That question is {len(question):,} characters long; please keep it "
                    f"under {MAX_INPUT_CHARS:,}."
                )
        else:
            options = AskOptions(
                filters=Filters(
                    date_of_service=day if use_date else None, sections=tuple(sections)
                ),
                top=top,
            )
            messages.append({"role": "user", "content": question})
            with st.chat_message("user"):
                st.markdown(text(question))
            with st.chat_message("assistant"):
                try:
                    with st.spinner("Reading the codebook…"):
                        ready = load.ready()
                    answer, conversation = ask(ready, question, conversation, options)
                except HcpcsError as exc:
                    st.warning(text(str(exc)))
                    messages.append({"role": "assistant", "content": str(exc)})
                else:
                    render_answer(answer)
                    messages.append({"role": "assistant", "content": answer.text, "answer": answer})
                    st.session_state.conversation = conversation
    if messages:
        st.sidebar.download_button(
            "Download conversation (Markdown)",
            as_markdown(messages),
            file_name="hcpcs-conversation.md",
            mime="text/markdown",
        )


main()
