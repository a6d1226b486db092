"""The privacy team's pages in the staff console: every request with its deadline (and a picture of
the open ones by due week), and one request with its tasks and audit trail."""
from __future__ import annotations

from html import escape

from ..staff.pages import console_page
from ..staff.rules import Staff
from .due_weeks import STATUS_ORDER
from .schemas import DUE_SOON_DAYS

OVERVIEW = "/console/privacy/requests"
CHART_HEIGHT = 160
BAR_WIDTH = 44
BAR_GAP = 16

def _row_class(view: dict) -> tuple[str, str]:
    if view["overdue"]:
        return "overdue", "overdue"
    if view[f"due_within_{DUE_SOON_DAYS}_days"]:
        return "due-soon", f"due within {DUE_SOON_DAYS} days"
    return "", ""


def render_due_weeks(bars: list[dict]) -> str:
    """Open requests by due week as stacked bars (inline SVG, one colour per status, drawn by the
    stylesheet) and the same figures as a table, which is what a screen reader reads."""
    if not bars:
        return '<section class="due-weeks" aria-labelledby="due-weeks-title"><h2 id="due-weeks-title">Open requests by due week</h2>' \
               "<p>No open requests.</p></section>"
    tallest = max(bar["total"] for bar in bars) or 1
    width = len(bars) * (BAR_WIDTH + BAR_GAP) + BAR_GAP
    shapes = []
    for n, bar in enumerate(bars):
        x, bottom = BAR_GAP + n * (BAR_WIDTH + BAR_GAP), CHART_HEIGHT
        for status in STATUS_ORDER:
            height = round(bar["counts"][status] * (CHART_HEIGHT - 20) / tallest)
            if height:
                bottom -= height
                shapes.append(f'<rect class="status-{status}" x="{x}" y="{bottom}" width="{BAR_WIDTH}" height="{height}"></rect>')
        shapes.append(f'<text class="total" x="{x + BAR_WIDTH // 2}" y="{bottom - 4}" text-anchor="middle">{bar["total"]}</text>')
        label_class = "week overdue" if bar["overdue"] else "week"
        shapes.append(f'<text class="{label_class}" x="{x + BAR_WIDTH // 2}" y="{CHART_HEIGHT + 16}" text-anchor="middle">'
                      f'{escape(bar["short_label"])}</text>')
    legend = "".join(f'<li><span class="swatch status-{s}"></span>{escape(s.replace("_", " "))}</li>' for s in STATUS_ORDER)
    header = "".join(f"<th scope=\"col\">{escape(s.replace('_', ' '))}</th>" for s in STATUS_ORDER)
    rows = "".join(
        f'<tr{" class=overdue" if bar["overdue"] else ""}><th scope="row">{escape(bar["label"])}</th>'
        + "".join(f"<td>{bar['counts'][s]}</td>" for s in STATUS_ORDER) + f"<td>{bar['total']}</td></tr>"
        for bar in bars
    )
    return (
        '<section class="due-weeks" aria-labelledby="due-weeks-title"><h2 id="due-weeks-title">Open requests by due week</h2>'
        f'<svg class="chart" aria-hidden="true" focusable="false" viewBox="0 0 {width} {CHART_HEIGHT + 24}" width="{width}"'
        f' height="{CHART_HEIGHT + 24}">{"".join(shapes)}</svg><ul class="legend" aria-hidden="true">{legend}</ul>'
        '<table class="figures" data-testid="due-weeks"><caption>Open requests by due week and status</caption>'
        f'<thead><tr><th scope="col">due</th>{header}<th scope="col">total</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def render_overview(data: dict, status: str, officer: Staff) -> str:
    counts = data["counts"]
    rows = []
    for v in data["requests"]:
        css, flag = _row_class(v)
        tasks = ", ".join(f"{t['system']}: {t['state']}" for t in v["tasks"])
        attention = "<br>".join(escape(r) for r in v["needs_attention"])
        rows.append(
            f'<tr class="{css}" data-request="{escape(v["id"])}">'
            f'<td><a href="{OVERVIEW}/{escape(v["id"])}">{escape(v["id"])}</a></td>'
            f'<td>{escape(v["customer_id"])}</td><td>{escape(v["type"])} <small>({escape(v["article"])})</small></td>'
            f'<td>{escape(v["status"])}</td><td>{escape(v["received_at"][:10])}</td>'
            f'<td>{escape(v["due_on"])}{" (extended)" if v["extended"] else ""}</td>'
            f'<td class="flag">{escape(flag)}</td><td>{escape(tasks)}</td><td class="attention">{attention}</td></tr>'
        )
    nav = " ".join(
        f'<a href="{OVERVIEW}?status={s}">{s}</a>' if s != status else f'<strong aria-current="page">{s}</strong>'
        for s in ("all", "open", "closed")
    )
    problems = "".join(f"<li>{escape(p)}</li>" for p in data.get("catalogue_problems", []))
    catalogue = (f'<section class="attention" data-testid="catalogue-problems"><h2>System catalogue</h2><p>Where the catalogue of '
                 f"connected systems (company-systems.yml) disagrees with the register or with the systems:</p><ul>{problems}</ul>"
                 "</section>") if problems else ""
    body = (
        "<h1>Privacy requests</h1>"
        f"<p>Today {escape(data['today'])}: {counts['open']} open, <strong>{counts['overdue']} overdue</strong>, "
        f"{counts[f'due_within_{DUE_SOON_DAYS}_days']} due within {DUE_SOON_DAYS} days, "
        f"{counts['needs_attention']} need attention.</p>{catalogue}{render_due_weeks(data['open_by_due_week'])}"
        f'<h2>Requests</h2><nav aria-label="Which requests">{nav}</nav>'
        "<table class=\"requests\"><thead><tr><th>request</th><th>customer</th><th>right</th><th>status</th><th>received</th>"
        "<th>due</th><th>deadline</th><th>systems</th><th>needs attention</th></tr></thead>"
        f"<tbody>{''.join(rows) or '<tr><td colspan=9>No requests.</td></tr>'}</tbody></table>"
    )
    return console_page("Privacy requests", body, officer)


def render_decision(v: dict, officer: Staff) -> str:
    """The privacy team's decision on an objection (Art. 21(1)): uphold it (the systems that carry the
    processing stop it) or refuse it with the compelling grounds, which the customer is told by e-mail."""
    action = f"{OVERVIEW}/{escape(v['id'])}/decision"
    token = f'<input type="hidden" name="csrf_token" value="{escape(officer.csrf_token)}">'
    return (
        '<section class="decision" aria-labelledby="decision-title"><h2 id="decision-title">Decide this objection</h2>'
        f"<p>The customer objects to <strong>{escape(v['purpose'] or '-')}</strong> (Art. 21(1)). Stop it, unless there are "
        "compelling legitimate grounds that override the customer's interests, or it is needed for legal claims. "
        f"The customer is told either way, by e-mail, by {escape(v['due_on'])}.</p>"
        f'<form method="post" action="{action}" class="uphold">{token}<input type="hidden" name="decision" value="uphold">'
        '<label for="uphold-note">Note (optional)</label><textarea id="uphold-note" name="reason" rows="2" maxlength="2000"></textarea>'
        '<button type="submit">Uphold: stop this processing</button></form>'
        f'<form method="post" action="{action}" class="refuse">{token}<input type="hidden" name="decision" value="refuse">'
        '<label for="refuse-reason">Compelling grounds (the customer reads this)</label>'
        '<textarea id="refuse-reason" name="reason" rows="3" maxlength="2000" required></textarea>'
        '<button type="submit">Refuse, with this reason</button></form></section>'
    )


def render_request(v: dict, officer: Staff) -> str:
    css, flag = _row_class(v)
    facts = [
        ("customer", v["customer_id"]), ("right", f"{v['type']} ({v['article']})"), ("status", v["status"]),
        ("received", v["received_at"]), ("due", v["due_on"] + (f" (first due {v['original_due_on']})" if v["extended"] else "")),
        ("deadline", flag or "on time"), ("extension reason", v["extension_reason"] or "-"),
        ("denial reason", v["denial_reason"] or "-"), ("categories", ", ".join(v["categories"])),
        *([("objection to", v["purpose"] or "-"), ("decision", v["decision"] or "awaiting the privacy team"),
           ("customer told", v["outcome_told_at"] or "-")] if v["type"] == "objection" else []),
        ("note for the privacy team", v["note"] or "-"),
        ("channel", v["channel"] or "-"), ("knowledge version", v["knowledge_version"] or "-"),
    ]
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(val))}</td></tr>" for k, val in facts)
    attention = "".join(f"<li>{escape(r)}</li>" for r in v["needs_attention"])
    kept = "".join(f"<li>{escape(k['category'])}: {escape(k['reason']['en'])}</li>" for k in v["kept_after_erasure"])
    tasks = "".join(
        f"<tr><td>{escape(t['system'])}</td><td>{escape(', '.join(t['categories']))}</td><td>{escape(t['operation'])}</td>"
        f"<td>{escape(t['state'])}</td><td>{t['attempts']}</td><td>{escape(t['next_attempt_at'] or '-')}</td>"
        f"<td>{escape(t['last_error'] or '-')}</td><td>{escape(t['completed_at'] or '-')}</td>"
        f"<td><code>{escape(t['idempotency_key'])}</code></td></tr>"
        for t in v["tasks"]
    )
    audit = "".join(
        f"<tr><td>{escape(a['at'])}</td><td>{escape(a['actor'])}</td><td>{escape(a['action'])}</td>"
        f"<td>{escape(a['from_status'] or '-')} &rarr; {escape(a['to_status'] or '-')}</td><td>{escape(a['reason'] or '')}</td></tr>"
        for a in v["audit"]
    )
    body = (
        f'<p><a href="{OVERVIEW}">&larr; all requests</a></p><h1>{escape(v["id"])}</h1>'
        + (f'<p class="flag {css}">{escape(flag)}</p>' if flag else "")
        + f'<table class="facts"><tbody>{fact_rows}</tbody></table>'
        + (render_decision(v, officer) if v["type"] == "objection" and v["status"] == "verified" else "")
        + (f'<h2>Needs attention</h2><ul class="attention">{attention}</ul>' if attention else "")
        + (f"<h2>Kept after erasure</h2><ul>{kept}</ul>" if kept else "")
        + "<h2>System tasks</h2><table><thead><tr><th>system</th><th>categories</th><th>operation</th><th>state</th>"
        "<th>attempts</th><th>next attempt</th><th>last error</th><th>completed</th><th>idempotency key</th></tr></thead>"
        f"<tbody>{tasks}</tbody></table>"
        "<h2>Audit trail</h2><table><thead><tr><th>at</th><th>who</th><th>what</th><th>status</th><th>reason</th></tr></thead>"
        f"<tbody>{audit}</tbody></table>"
    )
    return console_page(f"Request {v['id']}", body, officer)
