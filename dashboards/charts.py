"""Altair chart builders (pure functions of DataFrames; no data access)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

STATUS_SCALE = alt.Scale(
    domain=["green", "amber", "red", "suppressed"],
    range=["#1a7f37", "#d98c00", "#c62828", "#9e9e9e"],
)


def trend_with_target(series: pd.DataFrame, unit: str) -> alt.Chart:
    """Value per quarter (points coloured and shaped by status) with the target as a dashed line."""
    df = series.copy()
    df["quarter"] = pd.to_datetime(df["period_start"])
    base = alt.Chart(df).encode(x=alt.X("quarter:T", title="Quarter"))
    value = base.mark_line().encode(
        y=alt.Y("value:Q", title=unit, scale=alt.Scale(zero=False))
    )
    dots = base.mark_point(filled=True, size=70).encode(
        y="value:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE, title="Status"),
        shape=alt.Shape("status:N", title="Status"),
        tooltip=["quarter:T", "value:Q", "target:Q", "status:N", "n:Q"],
    )
    target = base.mark_line(strokeDash=[6, 4], color="#555").encode(
        y="target:Q", tooltip=["quarter:T", "target:Q"]
    )
    return (value + dots + target).properties(height=220)


def _signed_area(ring: list) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:]))


def _rewind(geometry: dict) -> dict:
    """Clockwise exterior rings, counter-clockwise holes: the d3/vega spherical convention.

    GeoJSON (RFC 7946) asks for the opposite, and d3 would then draw the whole globe minus the
    district, so every polygon is rewound here.
    """

    def polygon(rings: list) -> list:
        out = []
        for i, ring in enumerate(rings):
            clockwise = _signed_area(ring) < 0
            want_clockwise = i == 0
            out.append(ring if clockwise == want_clockwise else ring[::-1])
        return out

    if geometry.get("type") == "Polygon":
        return {**geometry, "coordinates": polygon(geometry["coordinates"])}
    if geometry.get("type") == "MultiPolygon":
        return {**geometry, "coordinates": [polygon(p) for p in geometry["coordinates"]]}
    return geometry


def _geo_frame(frame: pd.DataFrame) -> list[dict]:
    features = []
    for row in frame.to_dict("records"):
        geometry = _rewind(json.loads(row.pop("geometry_json")))
        props = {k: (None if pd.isna(v) else v) for k, v in row.items() if not isinstance(v, list)}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return features


def choropleth(frame: pd.DataFrame, field: str, title: str, label_field: str = "label") -> alt.Chart:
    """District map coloured by ``field``; NULL (suppressed) districts drawn grey and labelled."""
    features = _geo_frame(frame)
    data = alt.Data(values=features)
    shapes = (
        alt.Chart(data)
        .mark_geoshape(stroke="white", strokeWidth=1.5)
        .encode(
            color=alt.condition(
                f"isValid(datum.properties.{field})",
                alt.Color(f"properties.{field}:Q", title=title, scale=alt.Scale(scheme="blues")),
                alt.value("#d0d0d0"),
            ),
            tooltip=[
                alt.Tooltip("properties.district_name:N", title="District"),
                alt.Tooltip(f"properties.{label_field}:N", title=title),
            ],
        )
    )
    labels = (
        alt.Chart(data)
        .transform_calculate(
            cx="geoCentroid(null, datum)[0]", cy="geoCentroid(null, datum)[1]"
        )
        .encode(
            longitude="cx:Q",
            latitude="cy:Q",
            text=alt.Text(f"properties.{label_field}:N"),
        )
    )
    halo = labels.mark_text(fontSize=12, fontWeight="bold", stroke="white", strokeWidth=3)
    text = labels.mark_text(fontSize=12, fontWeight="bold", color="#111")
    return (shapes + halo + text).project("mercator").properties(height=280)


def sentiment_topics(trends: pd.DataFrame) -> alt.Chart:
    df = trends.copy()
    df["month"] = pd.to_datetime(df["period_start"])
    base = alt.Chart(df).encode(x=alt.X("month:T", title="Month"), color="topic_label:N")
    volume = base.mark_bar().encode(y=alt.Y("n:Q", title="Comments", stack=True))
    sentiment = base.mark_line(point=True).encode(
        y=alt.Y("mean_sentiment:Q", title="Mean sentiment (−1..1)"),
        tooltip=["month:T", "topic_label:N", "n:Q", "mean_sentiment:Q"],
    )
    return alt.vconcat(volume.properties(height=160), sentiment.properties(height=200))


def funnel(stages: pd.DataFrame) -> alt.Chart:
    """Horizontal bars of a funnel (columns: stage, count, share)."""
    order = list(stages["stage"])
    bars = alt.Chart(stages).mark_bar().encode(
        y=alt.Y("stage:N", sort=order, title=None),
        x=alt.X("count:Q", title="Requests"),
        tooltip=["stage:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    text = bars.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".0%"))
    return (bars + text).properties(height=180)


def estimates_with_ci(frame: pd.DataFrame, category: str) -> alt.Chart:
    """Weighted estimate with its CI (rule) and the unweighted estimate (open circle)."""
    df = frame[~frame["suppressed"].astype(bool)]
    base = alt.Chart(df).encode(y=alt.Y(f"{category}:N", title=None))
    ci = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="Share agreeing", axis=alt.Axis(format="%")), x2="ci_high:Q"
    )
    weighted = base.mark_point(filled=True, size=80, color="#1f4e79").encode(
        x="weighted:Q", tooltip=[f"{category}:N", "weighted:Q", "ci_low:Q", "ci_high:Q", "n_eff:Q"]
    )
    unweighted = base.mark_point(size=80, color="#d98c00").encode(x="unweighted:Q")
    return (ci + weighted + unweighted).properties(height=max(120, 28 * len(df)))
