"""The reveal: the room's answers beside the model's probabilities (a pure function of the tally)."""

from __future__ import annotations

import plotly.graph_objects as go

from backend.room.questions import Question, Tally
from backend.shared.language import t
from backend.shared.plotting import ACCENT, styled

ROOM_COLOUR = "#e07b00"


def reveal_figure(question: Question, tally: Tally) -> go.Figure:
    """One row per choice, the model's first choice on top marked ★: the share of the room that
    chose it, and the model's probability of it renormalised over the choices (both 0-100 %)."""
    order = sorted(range(len(question.choices)), key=lambda i: -question.model[i])[::-1]  # plotly draws bottom-up
    labels = [("★ " if i == tally.model_choice else "") + question.choices[i] for i in order]
    room = [tally.shares[i] for i in order]
    model = [tally.model_shares[i] for i in order]
    fig = go.Figure([
        go.Bar(y=labels, x=model, orientation="h", name=t("model"), marker_color=ACCENT,
               text=[_percent(p) for p in model], textposition="outside", cliponaxis=False,
               hovertemplate="%{y}: %{x:.1%}<extra></extra>"),
        go.Bar(y=labels, x=room, orientation="h", name=t("room: {count} answered", count=sum(tally.counts)),
               marker_color=ROOM_COLOUR, text=[f"{c}" for c in (tally.counts[i] for i in order)],
               textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{x:.1%}<extra></extra>"),
    ])
    # the legend at the figure's foot, below the axis' numbers: above the bars it ran into the
    # title on a phone, and just under the plot it covered the numbers
    fig.update_layout(barmode="group", legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                                               "x": 0, "traceorder": "reversed"})
    fig.update_xaxes(range=[0, 1.18], tickformat=".0%")
    fig.update_yaxes(automargin=True)
    fig = styled(fig, t("The room and the model"), 180 + 62 * len(question.choices))
    fig.layout.margin.b = 100  # the axis' numbers, then the legend (two lines on a phone)
    return fig


def _percent(p: float) -> str:
    return f"{p:.0%}" if p >= 0.01 or p == 0 else f"{p:.1%}"
