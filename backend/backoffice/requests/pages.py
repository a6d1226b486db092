"""The privacy team's pages in the staff console: every request with its deadline (and a picture of
the open ones by due week), and one request with its tasks and audit trail.

The pages are Jinja2 templates in `templates/`, escaped by Jinja (autoescape). A template is written
one element a line for reading; the line breaks and the indentation after them are left out when it
is loaded, so the page goes out as the compact HTML the console has always sent (a space that
belongs in the page is written inside a line).
"""
from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from jinja2.ext import Extension
from markupsafe import Markup

from ..staff.pages import Labels, console_page
from ..staff.rules import Staff
from .rules import DUE_SOON_DAYS, STATUS_ORDER

OVERVIEW = "/console/privacy/requests"
CHART_HEIGHT = 160
BAR_WIDTH = 44
BAR_GAP = 16


class _OneLine(Extension):
    """Drops each line break of a template with the indentation after it."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return re.sub(r"\n[ \t]*", "", source)


_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                         extensions=[_OneLine], auto_reload=False)


def _row_class(view: dict, t: Labels) -> tuple[str, str]:
    if view["overdue"]:
        return "overdue", t("requests.overdue")
    if view[f"due_within_{DUE_SOON_DAYS}_days"]:
        return "due-soon", t("requests.due_soon", days=DUE_SOON_DAYS)
    return "", ""


def due_weeks_chart(bars: list[dict]) -> dict:
    """Where each bar of the due weeks' chart stands: its stacked parts (one per status with requests,
    the first at the bottom), its middle for the labels, and its top for the total."""
    tallest = max((bar["total"] for bar in bars), default=0) or 1
    placed = []
    for n, bar in enumerate(bars):
        x, bottom, rects = BAR_GAP + n * (BAR_WIDTH + BAR_GAP), CHART_HEIGHT, []
        for status in STATUS_ORDER:
            height = round(bar["counts"][status] * (CHART_HEIGHT - 20) / tallest)
            if height:
                bottom -= height
                rects.append({"status": status, "y": bottom, "height": height})
        placed.append({**bar, "x": x, "middle": x + BAR_WIDTH // 2, "top": bottom, "rects": rects})
    return {"bars": placed, "width": len(bars) * (BAR_WIDTH + BAR_GAP) + BAR_GAP, "height": CHART_HEIGHT + 24,
            "label_y": CHART_HEIGHT + 16, "bar_width": BAR_WIDTH}


def render_overview(data: dict, status: str, officer: Staff, t: Labels) -> str:
    counts = data["counts"]
    rows = []
    for v in data["requests"]:
        css, flag = _row_class(v, t)
        rows.append({"view": v, "css": css, "flag": flag})
    body = _templates.get_template("overview.html").render(
        today=data["today"], overview=OVERVIEW, status=status, listings=("all", "open", "closed"),
        counts={"open": counts["open"], "overdue": counts["overdue"], "due_soon": counts[f"due_within_{DUE_SOON_DAYS}_days"],
                "needs_attention": counts["needs_attention"]},
        due_soon_days=DUE_SOON_DAYS, catalogue_problems=data.get("catalogue_problems", []),
        chart=due_weeks_chart(data["open_by_due_week"]), statuses=STATUS_ORDER,
        rows=rows, t=t,
    )
    return console_page(t("privacy_requests"), Markup(body), officer, t)


def render_request(v: dict, officer: Staff, t: Labels) -> str:
    css, flag = _row_class(v, t)
    first_due = t("requests.first_due", date=v["original_due_on"]) if v["extended"] else ""
    facts = [
        ("customer", v["customer_id"]), ("right", f"{v['type']} ({v['article']})"), ("status", v["status"]),
        ("received", v["received_at"]), ("due", v["due_on"] + first_due),
        ("deadline", flag or t("requests.on_time")), ("extension_reason", v["extension_reason"] or "-"),
        ("denial_reason", v["denial_reason"] or "-"), ("categories", ", ".join(v["categories"])),
        *([("objection_to", v["purpose"] or "-"), ("decision", v["decision"] or t("requests.awaiting_decision")),
           ("customer_told", v["outcome_told_at"] or "-")] if v["type"] == "objection" else []),
        ("note", v["note"] or "-"),
        ("channel", v["channel"] or "-"), ("knowledge_version", v["knowledge_version"] or "-"),
    ]
    body = _templates.get_template("request.html").render(v=v, css=css, flag=flag, overview=OVERVIEW, csrf_token=officer.csrf_token,
                                                          facts=[(t(f"requests.{label}"), value) for label, value in facts], t=t)
    return console_page(t("request_title", id=v["id"]), Markup(body), officer, t)
