"""An answer that restates the sidebar's settings (review, finding 3): the sidebar
shows the "Region" and "Model" widgets, the answer says "Model: Nova Lite"."""

import streamlit as st

region = st.sidebar.text_input("Region", "eu-west-1")
model = st.sidebar.selectbox("Model", ["Nova Lite", "Claude Haiku"])
question = st.chat_input("Ask")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        st.markdown(f"Model: {model}\n\nRegion: {region}")
