"""A form app, not a chat (review, findings 6, 8, 10): ``?show=info`` answers in an
``st.info`` box; ``?show=widgets`` answers in Markdown followed by new controls (a
download button, a rating box whose value reads as an apology) after an echo of
what was typed and picked; ``?show=nokey`` says in an ``st.info`` that no key is set."""

import streamlit as st

show = st.query_params.get("show", "info")
st.title("Ask the runbook")
with st.form("ask"):
    question = st.text_area("Your question")
    size = st.selectbox("Size", ["small", "large"])
    sent = st.form_submit_button("Get answer")
if sent:
    if show == "info":
        st.info(f"Tasks restart when {question} fails")
    elif show == "nokey":
        st.info("Please add your API key to continue.")
    else:
        st.markdown(f"**Your question:** {question}\n\n**Size:** {size}")
        st.markdown(f"Tasks restart when {question} fails")
        st.download_button("Download answer", "x")
        st.text_input("Rate the answer (1-5)", value="Sorry, I could not help")
