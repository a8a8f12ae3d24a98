"""The same answer twice (review, finding 4): ``?history=none`` redraws no earlier
turn; ``?history=expander`` redraws each earlier answer in a collapsed expander."""

import streamlit as st

history_shape = st.query_params.get("history", "none")
history = st.session_state.setdefault("history", [])
st.title("Runbook bot")
if history_shape == "expander":
    for question, answer in history:
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"), st.expander("Answer", expanded=False):
            st.markdown(answer)
question = st.chat_input("Ask")
if question:
    answer = "Restart the service."
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        st.markdown(answer)
    history.append((question, answer))
