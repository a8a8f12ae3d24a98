"""LangChain-style names (issue 20 review, finding 1): the person's turn is drawn as
``st.chat_message("human")``, the model's as ``"ai"``; the question, rendered from
Markdown, no longer reads as typed."""

import streamlit as st

question = st.chat_input("Ask")
if question:
    st.chat_message("human").markdown(question)
    st.chat_message("ai").markdown("I don't know.")
