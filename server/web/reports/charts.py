"""The geometry of the server-drawn SVG charts (the templates only place what is computed here):
no JavaScript, so the charts print and read the same everywhere."""

from __future__ import annotations

from typing import Any


def heat(value: float | None) -> str:
    """A CSS class for a share, in five steps, so a table of villages reads at a glance."""
    if value is None:
        return "heat-none"
    return f"heat-{min(int(value // 20), 4)}"


def month_label(month: str) -> str:
    """``2026-11`` → ``11/2026`` as Vietnamese write it."""
    year, _, number = month.partition("-")
    return f"{number}/{year}" if number else month


def trend_chart(
    months: list[dict[str, Any]], width: int = 640, height: int = 200
) -> dict[str, Any]:
    """Bars of households surveyed per month, and the line of running coverage (0–100 %)."""
    left, right, top, bottom = 40, 40, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(months), 1)
    slot = plot_w / count
    most = max((m["surveyed"] for m in months), default=0) or 1
    bars, points = [], []
    for index, month in enumerate(months):
        x = left + index * slot
        bar_h = plot_h * month["surveyed"] / most
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "w": round(slot * 0.7, 1),
                "y": round(top + plot_h - bar_h, 1),
                "h": round(bar_h, 1),
                "value": month["surveyed"],
                "label": month_label(month["month"]),
                "cx": round(x + slot / 2, 1),
            }
        )
        if month["coverage"] is not None:
            share = min(month["coverage"], 100.0)
            points.append(f"{x + slot / 2:.1f},{top + plot_h - plot_h * share / 100:.1f}")
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "base": top + plot_h,
        "label_y": height - 8,
        "most": most,
        "bars": bars,
        "line": " ".join(points),
        "ticks": [
            {"y": round(top + plot_h - plot_h * p / 100, 1), "label": f"{p}%"} for p in (0, 50, 100)
        ],
    }
