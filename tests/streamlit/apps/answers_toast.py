"""An app that answers a question with a toast only, and no chat message."""

import streamlit as st

st.title("Toast app")
question = st.chat_input("Ask")
if question:
    st.toast("Your question was queued.")
