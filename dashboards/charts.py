"""Altair chart builders (pure functions of DataFrames; no data access)."""

from __future__ import annotations

import itertools
import json

import altair as alt
import pandas as pd

STATUS_SCALE = alt.Scale(
    domain=["green", "amber", "red", "suppressed"],
    range=["#1a7f37", "#d98c00", "#c62828", "#9e9e9e"],
)


def _quarter_labels(dates: pd.Series) -> list[str]:
    return [f"{d.year}Q{(d.month - 1) // 3 + 1}" for d in pd.to_datetime(dates)]


def trend_with_target(series: pd.DataFrame, unit: str) -> alt.Chart:
    """Value per quarter (points coloured and shaped by status) with the target as a dashed line."""
    df = series.copy()
    df["quarter"] = _quarter_labels(df["period_start"])
    order = list(dict.fromkeys(df.sort_values("period_start")["quarter"]))
    percent = unit in ("share", "share points")
    fmt = ".1%" if percent else ",.3~g"
    base = alt.Chart(df).encode(x=alt.X("quarter:O", title=None, sort=order, axis=alt.Axis(labelAngle=0)))
    value = base.mark_line().encode(
        y=alt.Y(
            "value:Q",
            title=unit if len(unit) <= 30 else None,
            scale=alt.Scale(zero=False),
            axis=alt.Axis(format=".0%" if percent else ",~g"),
        )
    )
    dots = base.mark_point(filled=True, size=70).encode(
        y="value:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE, title="Status"),
        shape=alt.Shape("status:N", title="Status"),
        tooltip=[
            "quarter:O",
            alt.Tooltip("value:Q", format=fmt),
            alt.Tooltip("target:Q", format=fmt),
            "status:N",
            "n:Q",
        ],
    )
    target = base.mark_line(strokeDash=[6, 4], color="#555").encode(
        y="target:Q", tooltip=["quarter:O", alt.Tooltip("target:Q", format=fmt)]
    )
    return (value + dots + target).properties(height=220)


def _signed_area(ring: list) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in itertools.pairwise(ring))


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


def choropleth(
    frame: pd.DataFrame,
    field: str,
    title: str,
    label_field: str = "label",
    map_label_field: str | None = None,
) -> alt.Chart:
    """District map coloured by ``field``; NULL (suppressed) districts drawn grey and labelled.

    ``label_field`` is the tooltip text; ``map_label_field`` (default the same) the short text
    drawn on each district.
    """
    features = _geo_frame(frame)
    data = alt.Data(values=features)
    shapes = (
        alt.Chart(data)
        .mark_geoshape(stroke="white", strokeWidth=1.5)
        .encode(
            color=alt.condition(
                f"isValid(datum.properties.{field})",
                alt.Color(
                    f"properties.{field}:Q",
                    title=title,
                    scale=alt.Scale(scheme="blues"),
                    legend=alt.Legend(format=",.0f"),
                ),
                alt.value("#b0b0b0"),
            ),
            tooltip=[
                alt.Tooltip("properties.district_name:N", title="District"),
                alt.Tooltip(f"properties.{label_field}:N", title=title),
            ],
        )
    )
    labels = (
        alt.Chart(data)
        .transform_calculate(cx="geoCentroid(null, datum)[0]", cy="geoCentroid(null, datum)[1]")
        .encode(
            longitude="cx:Q",
            latitude="cy:Q",
            text=alt.Text(f"properties.{map_label_field or label_field}:N"),
        )
    )
    halo = labels.mark_text(fontSize=11, fontWeight="bold", stroke="white", strokeWidth=3)
    text = labels.mark_text(fontSize=11, fontWeight="bold", color="#111")
    return (shapes + halo + text).project("mercator").properties(height=280)


def sentiment_topics(trends: pd.DataFrame) -> alt.VConcatChart:
    df = trends.copy()
    df["month"] = pd.to_datetime(df["period_start"])
    base = alt.Chart(df).encode(
        x=alt.X("yearmonth(month):O", title="Month", axis=alt.Axis(format="%b %Y", labelAngle=0)),
        color=alt.Color("topic_label:N", title="Topic"),
    )
    volume = base.mark_bar().encode(y=alt.Y("n:Q", title="Comments", stack=True))
    sentiment = base.mark_line(point=True).encode(
        y=alt.Y("mean_sentiment:Q", title="Mean sentiment (−1..1)"),
        tooltip=["month:T", "topic_label:N", "n:Q", "mean_sentiment:Q"],
    )
    return alt.vconcat(volume.properties(height=160), sentiment.properties(height=200))


def funnel(stages: pd.DataFrame) -> alt.Chart:
    """Horizontal bars of a funnel (columns: stage, count, share)."""
    order = list(stages["stage"])
    bars = (
        alt.Chart(stages)
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=order, title=None),
            x=alt.X("count:Q", title="Requests"),
            tooltip=["stage:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
        )
    )
    text = bars.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".0%"))
    return (bars + text).properties(height=180)


def estimates_with_ci(frame: pd.DataFrame, category: str) -> alt.Chart:
    """Weighted estimate with its CI (rule) and the unweighted estimate (open circle)."""
    df = frame[~frame["suppressed"].astype(bool)]
    base = alt.Chart(df).encode(
        y=alt.Y(f"{category}:N", title=None, sort=None, axis=alt.Axis(labelLimit=220, labelOverlap=False))
    )
    ci = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="Share agreeing", axis=alt.Axis(format="%")), x2="ci_high:Q"
    )
    weighted = base.mark_point(filled=True, size=80, color="#1f4e79").encode(
        x="weighted:Q", tooltip=[f"{category}:N", "weighted:Q", "ci_low:Q", "ci_high:Q", "n_eff:Q"]
    )
    unweighted = base.mark_point(size=80, color="#d98c00").encode(x="unweighted:Q")
    return (ci + weighted + unweighted).properties(height=alt.Step(24) if len(df) else 120)


def theil_split(theil: pd.DataFrame) -> alt.Chart:
    """Stacked bars per quarter: between-district and within-district parts of Theil T."""
    df = theil.copy()
    df["quarter"] = _quarter_labels(df["period_start"])
    long = df.melt(
        id_vars=["quarter", "theil_t"],
        value_vars=["between_district", "within_district"],
        var_name="part",
        value_name="contribution",
    )
    long["part"] = long["part"].map(
        {"between_district": "Between districts", "within_district": "Within districts"}
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("quarter:O", title="Quarter", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("contribution:Q", title="Theil T", stack=True),
            color=alt.Color(
                "part:N",
                title=None,
                scale=alt.Scale(
                    domain=["Between districts", "Within districts"], range=["#1f4e79", "#9ecae1"]
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("part:N"),
            tooltip=[
                "quarter:O",
                "part:N",
                alt.Tooltip("contribution:Q", format=".3f"),
                alt.Tooltip("theil_t:Q", title="Theil T", format=".3f"),
            ],
        )
        .properties(height=220)
    )


def share_over_time(city: pd.DataFrame) -> alt.Chart:
    """Weighted and unweighted city share per survey wave, as percent."""
    df = city.copy()
    df["wave"] = _quarter_labels(df["period_start"])
    long = df.melt(
        id_vars=["wave"], value_vars=["weighted", "unweighted"], var_name="estimate", value_name="share"
    )
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("wave:O", title="Survey wave", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "share:Q", title="Share agreeing", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)
            ),
            color=alt.Color(
                "estimate:N",
                title=None,
                scale=alt.Scale(domain=["weighted", "unweighted"], range=["#1f4e79", "#d98c00"]),
            ),
            tooltip=["wave:O", "estimate:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=220)
    )


def _two_lines(text: str) -> str:
    """``text`` split at the space nearest its middle, joined by '|' (a two-line axis label)."""
    words = text.split()
    if len(words) < 2:
        return text
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(text) / 2))
    return " ".join(words[:cut]) + "|" + " ".join(words[cut:])


def national_heatmap(scores: pd.DataFrame, names: dict[int, str]) -> alt.LayerChart:
    """Cities (rows) x considerations (columns): cells coloured by status, labelled in points.

    ``scores`` has ``city_label``, ``consideration``, ``score`` and ``status``; a city that is not
    comparable carries its flag in its label, so it reads as such without colour.
    """
    df = scores.copy()
    df["consideration_name"] = df["consideration"].map(names)
    # Column heads on two lines ('|' marks the break), above the cells.
    df["column_head"] = df["consideration_name"].map(_two_lines)
    df["points"] = [("—" if pd.isna(s) else f"{100 * s:.0f}") for s in df["score"]]
    order = [_two_lines(names[c]) for c in sorted(names)]
    base = alt.Chart(df).encode(
        x=alt.X(
            "column_head:N",
            title=None,
            sort=order,
            axis=alt.Axis(
                labelAngle=0,
                labelLimit=170,
                orient="top",
                labelPadding=20,
                labelFontSize=12,
                labelExpr="split(datum.label, '|')",
            ),
        ),
        y=alt.Y("city_label:N", title=None, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("status:N", scale=STATUS_SCALE, title="Status"),
        tooltip=[
            alt.Tooltip("city_label:N", title="City"),
            alt.Tooltip("consideration_name:N", title="Consideration"),
            alt.Tooltip("score:Q", format=".3f"),
            "status:N",
        ],
    )
    labels = base.mark_text(fontSize=13, fontWeight="bold", color="white").encode(text="points:N")
    return (cells + labels).properties(height=40 * max(1, df["city_label"].nunique()) + 20)


def spread_ranges(spread: pd.DataFrame, names: dict[int, str]) -> alt.LayerChart:
    """Per consideration: the min-max range of comparable cities, the interquartile box and the median."""
    df = spread.dropna(subset=["median_score"]).copy()
    df["consideration_name"] = df["consideration"].map(names)
    for column in ("min_score", "p25_score", "median_score", "p75_score", "max_score"):
        df[column] = 100 * df[column]
    order = [names[c] for c in sorted(names)]
    base = alt.Chart(df).encode(
        y=alt.Y("consideration_name:N", title=None, sort=order, axis=alt.Axis(labelLimit=220))
    )
    points_axis = alt.Axis(title="Score (points; 100 = on target)")
    whiskers = base.mark_rule(color="#555").encode(
        x=alt.X("min_score:Q", axis=points_axis, scale=alt.Scale(zero=False)), x2="max_score:Q"
    )
    box = base.mark_bar(size=16, color="#9ecae1").encode(x="p25_score:Q", x2="p75_score:Q")
    median = base.mark_tick(color="#1f4e79", thickness=3, size=22).encode(
        x="median_score:Q",
        tooltip=[
            alt.Tooltip("consideration_name:N", title="Consideration"),
            alt.Tooltip("n_cities:Q", title="Comparable cities"),
            alt.Tooltip("min_score:Q", title="Min", format=".1f"),
            alt.Tooltip("median_score:Q", title="Median", format=".1f"),
            alt.Tooltip("max_score:Q", title="Max", format=".1f"),
        ],
    )
    return (whiskers + box + median).properties(height=36 * max(1, len(df)) + 20)
