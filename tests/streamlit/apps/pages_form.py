"""Not a chat: a question in a text area, sent by a form's submit button (as in
aws-samples' ECS demo)."""

import streamlit as st

st.title("Ask the ECS expert")
with st.form("ask"):
    question = st.text_area("Your question")
    sent = st.form_submit_button("Get answer")
if sent:
    if question.strip():
        st.markdown(f"**Answer:** tasks restart when {question.strip()} fails its health check")
    else:
        st.warning("Type a question first.")
