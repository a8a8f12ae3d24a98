"""An answer that never comes (review, finding 2): the assistant message holds only a
placeholder word (``?mode=thinking``), a cursor (``cursor``) or a Retry button
(``retry``), while a warning outside it says why."""

import streamlit as st

mode = st.query_params.get("mode", "thinking")
question = st.chat_input("Ask")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        placeholder = st.empty()
        if mode == "thinking":
            placeholder.markdown("Thinking...")
        elif mode == "cursor":
            placeholder.markdown("▌")
        else:
            st.button("🔄 Retry")
    st.warning("The model is busy right now.")
