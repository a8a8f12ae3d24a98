"""Loads fine; raises only when a question is asked."""

import streamlit as st

st.title("Fine until asked")
question = st.chat_input("Ask")
if question:
    with st.chat_message("assistant"):
        raise RuntimeError("the answer path is broken")
