"""What-if: compound growth, recomputed on the server as the slider moves (over Streamlit's
websocket, which the portal relays behind its Gate)."""

import streamlit as st

st.set_page_config(page_title="What-if", layout="centered")
st.title("What-if")

who = st.context.headers.get("X-Portal-Name") or st.context.headers.get("X-Portal-Email")
if who:
    st.caption(f"Signed in to the portal as {who}")

rate = st.slider("Growth per year (%)", min_value=0, max_value=20, value=5)
years = st.number_input("Years", min_value=1, max_value=50, value=10)
start = 100.0
final = start * (1 + rate / 100) ** years
st.metric("Value at the end", f"{final:,.1f}", delta=f"{final - start:+,.1f}")
st.line_chart([start * (1 + rate / 100) ** year for year in range(int(years) + 1)])
