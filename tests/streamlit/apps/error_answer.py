"""Answers every question with an error alert, as the incident's app did."""

import streamlit as st

question = st.chat_input("Ask")
if question:
    with st.chat_message("assistant"):
        st.markdown("**Nova Micro** · fast answer")
        st.error("Nova Micro failed: unexpected AttributeError")
