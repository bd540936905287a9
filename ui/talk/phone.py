"""Phone-width fixes (screens up to 640 px, where Streamlit stacks columns): nothing sticks out to
the right and every control can be reached. Wider screens are left exactly as they were.

- Segmented controls wrap onto a second row instead of hiding their last options in a strip
  that scrolls sideways (the image page's four class activation maps did not fit).
- Plotly's text is sized for a projector (18 px, titles 22 px) and SVG text never wraps: a long
  title or axis title was cut off at the chart's edges. On a phone the charts' text is smaller.
  Plotly sets the sizes inline while it draws, so the rules need `!important`; positions were laid
  out for the larger type, so smaller text only leaves a little more room around itself.
"""

from __future__ import annotations

import streamlit as st

PHONE_MAX_PX = 640  # Streamlit's own breakpoint: columns stack below it

CSS = f"""<style>
@media (max-width: {PHONE_MAX_PX}px) {{
  [data-testid="stButtonGroup"] > div {{ flex-wrap: wrap; row-gap: 0.25rem; overflow-x: visible; }}
  .js-plotly-plot .gtitle {{ font-size: 11px !important; }}
  .js-plotly-plot .g-xtitle text, .js-plotly-plot .g-ytitle text, .js-plotly-plot .g-x2title text,
  .js-plotly-plot .g-y2title text, .js-plotly-plot .annotation-text {{ font-size: 12px !important; }}
  .js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .legendtext,
  .js-plotly-plot .cbtitle text, .js-plotly-plot .cbaxis text {{ font-size: 12px !important; }}
  .stPlotlyChart {{ max-width: 100%; }}
}}
</style>"""


def style() -> None:
    """The phone stylesheet, on every page (it only applies on narrow screens)."""
    st.html(CSS)
