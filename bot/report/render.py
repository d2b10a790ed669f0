"""A report as a table (people read it), CSV or JSON (tools read it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.report.figures import Report, Row

FORMATS = ("table", "csv", "json")
HEADINGS = (
    "received",
    "claimed",
    "replied",
    "transferred",
    "rolled over",
    "resolved",
    "spam",
    "claim p50",
    "claim p90",
    "reply p50",
    "reply p90",
    "claim SLA",
    "reply SLA",
)


def duration(seconds: float | None) -> str:
    """``45s``, ``12m``, ``1h05m``, ``2d03h``; ``-`` for no value."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _when(at: datetime | None) -> str:
    return "the beginning" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


def _sla(flat: dict[str, Any], label: str) -> str:
    pct = flat[f"{label}_attainment_pct"]
    if pct is None:
        return "-"
    breaches = flat[f"{label}_breaches"]
    return f"{pct:.0f}% ({breaches} late)"


def _cells(row: Row, person: bool) -> list[str]:
    f = row.flat()
    counts = [str(f[k]) for k in ("received", "claimed", "replied", "transferred")]
    counts += [str(f[k]) for k in ("rolled_over", "resolved", "spam")]
    if person:
        counts[0] = counts[4] = ""
    times = []
    for label in ("claim", "first_reply"):
        for p in ("median", "p90"):
            business = duration(f[f"{label}_{p}_business_s"])
            wall = duration(f[f"{label}_{p}_wall_s"])
            times.append(business if business == wall else f"{business} ({wall})")
    return [row.name, *counts, *times, _sla(f, "claim"), _sla(f, "first_reply")]


def _table(title: str, rows: Sequence[Row], person: bool) -> list[str]:
    grid = [[title, *HEADINGS], *(_cells(r, person) for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]
    out = []
    for n, line in enumerate(grid):
        rest = zip(line[1:], widths[1:], strict=True)
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in rest]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def table(report: Report) -> str:
    lines = [
        f"Threads received from {_when(report.since)} to {_when(report.until)}.",
        "Times are business time in the department's hours (wall time in brackets when it"
        " differs); p50 is the median, p90 the 90th percentile; SLA is the share within target.",
        "",
    ]
    if not report.departments:
        return "\n".join([*lines, "No threads were received in this period."]) + "\n"
    lines += _table("department", report.departments, False)
    if report.people:
        lines += ["", *_table("person", report.people, True)]
    return "\n".join(lines) + "\n"


def rows(report: Report) -> list[dict[str, Any]]:
    """Every row, departments first, each with its ``scope``."""
    out = [{"scope": "department", **r.flat()} for r in report.departments]
    return out + [{"scope": "person", **r.flat()} for r in report.people]


def to_csv(report: Report) -> str:
    data = rows(report)
    buffer = io.StringIO()
    columns = ["scope", *Row("", "").flat()]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in data:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def to_json(report: Report) -> str:
    doc = {
        "since": None if report.since is None else report.since.isoformat(),
        "until": report.until.isoformat(),
        "rows": rows(report),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render(report: Report, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    return table(report)


def _times(row: Row, label: str) -> str:
    f = row.flat()
    median = duration(f[f"{label}_median_business_s"])
    p90 = duration(f[f"{label}_p90_business_s"])
    pct = f[f"{label}_attainment_pct"]
    sla = "" if pct is None else f" · {pct:.0f}% within target, {f[f'{label}_breaches']} late"
    return f"median {median}, p90 {p90}{sla}"


def summary(report: Report, person_key: str = "") -> str:
    """A short text for chat: each department's line, then the asking person's own."""
    lines = [f"Threads received from {_when(report.since)} to {_when(report.until)}:"]
    if not report.departments:
        lines.append("No threads were received in this period.")
    for row in report.departments:
        c = row.flat()
        counts = " · ".join(
            f"{c[k]} {k.replace('_', ' ')}"
            for k in ("received", "claimed", "replied", "transferred", "rolled_over")
        )
        lines.append(f"{row.name}: {counts} · {c['resolved']} resolved · {c['spam']} spam")
        lines.append(f"  claim: {_times(row, 'claim')}")
        lines.append(f"  first reply: {_times(row, 'first_reply')}")
    mine = next((r for r in report.people if r.key == person_key), None)
    if mine is not None:
        c = mine.flat()
        lines.append(
            f"You: {c['claimed']} claimed · {c['replied']} replied · "
            f"claim {_times(mine, 'claim')} · first reply {_times(mine, 'first_reply')}"
        )
    lines.append("Times are business time in each department's hours.")
    return "\n".join(lines)
