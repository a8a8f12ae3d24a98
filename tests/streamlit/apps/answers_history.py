"""Answers streamed into a placeholder, earlier turns redrawn from history in
another shape (issue 20): ``?shape=many`` redraws one chat message per turn, as
aws-samples' Converse stream app does (an ``st.empty()`` then ``st.write_stream``
in the live turn); ``?shape=one`` redraws every earlier turn as ONE markdown
element behind speaker labels, the live answer drawn in an ``st.empty()``;
``?shape=one&chat=1`` puts that element and the live answer in chat messages."""

import streamlit as st

ANSWERS = {
    "alpha?": "Alpha is the **first** letter.\n\nIt comes before beta.",
    "beta?": "Beta is the second letter.",
}

shape = st.query_params.get("shape", "many")
chat = st.query_params.get("chat", "") == "1"
history = st.session_state.setdefault("history", [])
st.title("History app")
if shape == "many":
    for role, text in history:
        with st.chat_message(role):
            st.markdown(text)
elif history:
    joined = "\n\n".join(f"**You:** {q}\n\n**Bot:** {a}" for q, a in history)
    if chat:
        with st.chat_message("assistant"):
            st.markdown(joined)
    else:
        st.markdown(joined)

question = st.chat_input("Ask about letters")
if question:
    answer = ANSWERS.get(question, f"No idea about {question}")
    words = [word + " " for word in answer.split(" ")]
    if shape == "many":
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            st.empty()
            shown = st.write_stream(iter(words))
        history += [("user", question), ("assistant", answer)]
    else:
        holder = st.chat_message("assistant") if chat else st.container()
        with holder:
            placeholder = st.empty()
            full = ""
            for word in words:
                full += word
                placeholder.markdown(full + "▌")
            placeholder.markdown(full)
        history.append((question, answer))
