"""Two chat inputs: the step must be told which one."""

import streamlit as st

left, right = st.columns(2)
with left:
    first = st.chat_input("Ask support", key="support")
with right:
    second = st.chat_input("Ask sales", key="sales")
if first:
    st.write(f"support answers: {first}")
if second:
    st.write(f"sales answers: {second}")
