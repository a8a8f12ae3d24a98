"""Every element that shows text (issue 20, item 6), with some of it in containers a
person must open first: collapsed expander and status, closed popover, inactive tab,
a sidebar set to start collapsed."""

import datetime

import numpy as np
import streamlit as st

st.set_page_config(initial_sidebar_state="collapsed")
st.sidebar.markdown("sidebar words")

st.metric("Requests", 42, delta="+5 today")
st.json({"region": "eu-west-1"})
st.caption("a caption :smile:")
st.markdown(
    "**Bold** :blue-background[tinted] :material/bolt: words, `__init__` kept\n\n"
    "| Model | Price |\n| --- | --- |\n| Nova | cheap |\n\n"
    "![alt text nobody reads](https://img.example/x.png)"
)
st.code("def __init__(self): ...", language="python")
st.divider()
st.latex(r"E = mc^2")
st.badge("Beta badge")
st.markdown("[:violet-badge[linked badge]](https://badge.example/secret-url)")
st.html("<p>Html <b>body</b> &amp; more</p>")
st.image(np.zeros((4, 4, 3), dtype=np.uint8), caption="An image caption")
st.progress(40, text="Loading 40%")
st.toast("Saved toast")
st.table({"Model": ["Nova Lite"], "Price": [0.06]})
st.dataframe({"Region": ["eu-west-1", None], "Tasks": [2, 3], "Healthy": [True, False]})
st.dataframe({"When": [datetime.datetime(2026, 1, 2, 3, 4)]})  # a type opskit does not read
st.button(":material/send: Send :rocket:")

st.text_input("Name", "Ada")
st.text_input("Secret", "hunter2", type="password")
st.text_area("Notes", "some notes")
st.number_input("Count", value=3)
st.selectbox("Colour", ["red", "green"], index=1)
st.radio("Size", ["S", "M"], index=1)
st.checkbox("Agree", value=True)
st.slider("Level", 0, 10, 7)
st.multiselect("Tags", ["alpha", "beta", "gamma"], default=["beta", "gamma"])
st.date_input("Day", datetime.date(2026, 1, 2))
st.time_input("At", datetime.time(9, 30))
st.color_picker("Tint", "#00aa00")
st.toggle("Dark mode", value=False)
st.pills("Plan", ["Free", "Pro"])
st.select_slider("Speed", ["slow", "fast"], value="fast")
st.file_uploader("Upload a log")
st.link_button("Open the docs", "https://docs.example/")
st.download_button("Get the report", b"data")
st.datetime_input("When", datetime.datetime(2026, 1, 2, 9, 30))
st.camera_input("Take a photo")
st.audio_input("Record a note")
st.menu_button("Actions", ["Restart", "Stop"])
st.feedback("thumbs")  # no label: reads nothing
st.chat_input("Ask about this page")

with st.chat_message("assistant"):
    st.markdown("chat body")

with st.expander("Open section", expanded=True):
    st.markdown("open expander words")
with st.expander("Collapsed section"):
    st.markdown("collapsed expander words")
first, second = st.tabs(["First tab", "Second tab"])
first.markdown("first tab words")
second.markdown("second tab words")
with st.popover("More options"):
    st.markdown("popover words")
with st.status("Working", expanded=False):
    st.markdown("status words")
