"""Trainers' page: build a quiz from the codebook, preview it, download it in every format."""

from __future__ import annotations

import streamlit as st

from assistant.errors import HcpcsError
from assistant.quiz.builder import DIFFICULTIES, FORMATS, QUIZ_KINDS, QuizBuilder
from assistant.records import SECTION_LETTERS
from assistant.webapp.loader import loader_or_stop, text

EXTENSIONS = {
    "json": "json",
    "gift": "gift.txt",
    "moodle-xml": "xml",
    "aiken": "aiken.txt",
    "qti": "qti.zip",
    "csv": "csv",
    "md": "md",
}
MIME = {
    "json": "application/json",
    "moodle-xml": "application/xml",
    "qti": "application/zip",
    "csv": "text/csv",
    "md": "text/markdown",
}

st.set_page_config(page_title="Quiz builder · hcpcs-assistant", page_icon="📝")
st.title("Quiz builder")
load = loader_or_stop()

releases = [r.id for r in load.retriever.releases]
with st.form("quiz"):
    release = st.selectbox("Release", releases[::-1])
    sections = st.multiselect("Sections", list(SECTION_LETTERS))
    kind = st.selectbox("Kind", QUIZ_KINDS, index=QUIZ_KINDS.index("mixed"))
    difficulty = st.radio("Difficulty", DIFFICULTIES, horizontal=True)
    count = st.number_input("Questions", min_value=1, max_value=200, value=10)
    seed = st.number_input("Seed (same seed, same quiz)", min_value=0, value=0)
    made = st.form_submit_button("Make the quiz")

if made:
    from assistant.quiz.export import export

    try:
        with st.spinner("Reading the codebook…"):
            builder = QuizBuilder(load.ready(), release)
            quiz = builder.make(int(count), kind, difficulty, tuple(sections), int(seed))
    except HcpcsError as exc:
        st.error(text(str(exc)))
        st.stop()
    st.session_state.built_quiz = quiz
    st.session_state.files = {fmt: export(quiz, fmt) for fmt in FORMATS}

quiz = st.session_state.get("built_quiz")
if quiz is not None:
    st.subheader(f"{len(quiz.items)} questions · CMS HCPCS {quiz.release} · seed {quiz.seed}")
    columns = st.columns(4)
    for n, fmt in enumerate(FORMATS):
        columns[n % 4].download_button(
            f"Download {fmt}",
            st.session_state.files[fmt],
            file_name=f"hcpcs-quiz-{quiz.release}-{quiz.seed}.{EXTENSIONS[fmt]}",
            mime=MIME.get(fmt, "text/plain"),
        )
    for n, item in enumerate(quiz.items, 1):
        with st.container(border=True):
            st.markdown(f"**{n}.** {text(item.stem)}")
            for letter, option in zip("ABCD", item.options, strict=True):
                mark = " ✓" if option.correct else ""
                st.markdown(f"{letter}. {text(option.text)}{mark}")
            st.caption(text(item.explanation))
