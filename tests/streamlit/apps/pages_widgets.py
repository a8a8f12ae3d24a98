"""Not a chat: a text input, a number input and a selectbox, then a button."""

import streamlit as st

st.title("Estimate")
service = st.text_input("Service name")
tasks = st.number_input("Tasks", min_value=1, max_value=50, value=1)
ratio = st.number_input("CPU share", min_value=0.0, max_value=1.0, value=0.5)
size = st.selectbox("Size", ["small", "medium", "large"])
st.button("Disabled", disabled=True)
if st.button("Estimate"):
    st.write(f"{service}: {tasks} x {size} tasks at {ratio:.2f} CPU")
