"""A chat that takes its chat input away after one answer (a quota used up, a
broken client): the next question cannot be asked, and that is a failure."""

import streamlit as st

history = st.session_state.setdefault("pages_gone_history", [])


def answer() -> None:
    history.append(f"echo: {st.session_state.pages_gone_q}")


for text in history:
    with st.chat_message("assistant"):
        st.write(text)
if history:
    st.warning("Chat closed for today: the daily quota is used up.")
else:
    st.chat_input("Ask", key="pages_gone_q", on_submit=answer)
