"""Streamlit's own LLM example with no key configured: an info, and the run stops."""

import streamlit as st

st.title("Chatbot")
with st.chat_message("assistant"):
    st.markdown("How can I help you?")
question = st.chat_input()
if question:
    st.info("Please add your API key to continue.")
    st.stop()
