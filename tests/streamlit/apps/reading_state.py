"""Widgets whose value the script set through session_state: the page shows that
value, not the widget's default (review finding 7)."""

import streamlit as st

if "reading_size" not in st.session_state:
    st.session_state.reading_size = "large"
    st.session_state.reading_mode = "slow"
    st.session_state.reading_tags = ["beta"]
st.selectbox("Size", ["small", "medium", "large"], key="reading_size")
st.radio("Mode", ["fast", "slow"], key="reading_mode")
st.multiselect("Tags", ["alpha", "beta"], key="reading_tags")
