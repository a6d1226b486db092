"""The privacy team's pages: every request with its deadline, and one request with its tasks and audit trail."""
from __future__ import annotations

from html import escape

from .schemas import DUE_SOON_DAYS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
.overdue { background: #fde2e1; }
.due-soon { background: #fff4d6; }
.flag { font-weight: 600; }
.overdue .flag, p.overdue { color: #a40e0e; }
.due-soon .flag, p.due-soon { color: #8a5a00; }
.attention { color: #a40e0e; }
nav a { margin-right: 1rem; }
code { font-size: .9em; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _row_class(view: dict) -> tuple[str, str]:
    if view["overdue"]:
        return "overdue", "overdue"
    if view[f"due_within_{DUE_SOON_DAYS}_days"]:
        return "due-soon", f"due within {DUE_SOON_DAYS} days"
    return "", ""


def render_overview(data: dict, status: str) -> str:
    counts = data["counts"]
    rows = []
    for v in data["requests"]:
        css, flag = _row_class(v)
        tasks = ", ".join(f"{t['system']}: {t['state']}" for t in v["tasks"])
        attention = "<br>".join(escape(r) for r in v["needs_attention"])
        rows.append(
            f'<tr class="{css}" data-request="{escape(v["id"])}">'
            f'<td><a href="/privacy/requests/{escape(v["id"])}">{escape(v["id"])}</a></td>'
            f'<td>{escape(v["customer_id"])}</td><td>{escape(v["type"])} <small>({escape(v["article"])})</small></td>'
            f'<td>{escape(v["status"])}</td><td>{escape(v["received_at"][:10])}</td>'
            f'<td>{escape(v["due_on"])}{" (extended)" if v["extended"] else ""}</td>'
            f'<td class="flag">{escape(flag)}</td><td>{escape(tasks)}</td><td class="attention">{attention}</td></tr>'
        )
    nav = " ".join(
        f'<a href="/privacy/requests?status={s}">{s}</a>' if s != status else f"<strong>{s}</strong>"
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
        f"{counts['needs_attention']} need attention.</p>{catalogue}<nav>{nav}</nav>"
        "<table><thead><tr><th>request</th><th>customer</th><th>right</th><th>status</th><th>received</th>"
        "<th>due</th><th>deadline</th><th>systems</th><th>needs attention</th></tr></thead>"
        f"<tbody>{''.join(rows) or '<tr><td colspan=9>No requests.</td></tr>'}</tbody></table>"
    )
    return _page("Privacy requests", body)


def render_request(v: dict) -> str:
    css, flag = _row_class(v)
    facts = [
        ("customer", v["customer_id"]), ("right", f"{v['type']} ({v['article']})"), ("status", v["status"]),
        ("received", v["received_at"]), ("due", v["due_on"] + (f" (first due {v['original_due_on']})" if v["extended"] else "")),
        ("deadline", flag or "on time"), ("extension reason", v["extension_reason"] or "-"),
        ("denial reason", v["denial_reason"] or "-"), ("categories", ", ".join(v["categories"])),
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
        f'<p><a href="/privacy/requests">&larr; all requests</a></p><h1>{escape(v["id"])}</h1>'
        + (f'<p class="flag {css}">{escape(flag)}</p>' if flag else "")
        + f'<table class="facts"><tbody>{fact_rows}</tbody></table>'
        + (f'<h2>Needs attention</h2><ul class="attention">{attention}</ul>' if attention else "")
        + (f"<h2>Kept after erasure</h2><ul>{kept}</ul>" if kept else "")
        + "<h2>System tasks</h2><table><thead><tr><th>system</th><th>categories</th><th>operation</th><th>state</th>"
        "<th>attempts</th><th>next attempt</th><th>last error</th><th>completed</th><th>idempotency key</th></tr></thead>"
        f"<tbody>{tasks}</tbody></table>"
        "<h2>Audit trail</h2><table><thead><tr><th>at</th><th>who</th><th>what</th><th>status</th><th>reason</th></tr></thead>"
        f"<tbody>{audit}</tbody></table>"
    )
    return _page(f"Request {v['id']}", body)
