"""A multipage app with st.navigation: a home page and a report page with a chat input."""

import streamlit as st


def home() -> None:
    st.title("Nav home")
    st.write("Pick a page in the sidebar.")


def report() -> None:
    st.title("Sales report")
    question = st.chat_input("Ask the report")
    if question:
        with st.chat_message("assistant"):
            st.write(f"the report answers: {question}")


st.navigation(
    [
        st.Page(home, title="Home", default=True),
        st.Page(report, title="Sales report", url_path="sales"),
    ]
).run()
