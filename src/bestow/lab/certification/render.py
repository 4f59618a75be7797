"""A certification report for people: one summary line, Markdown, or a standalone HTML page
to send to a partner (no script, no external asset; it prints well). Each works on the
report's JSON (``engine.Report.as_json``), so a stored run's report renders the same."""

from __future__ import annotations

from html import escape
from typing import Any

STATUS_WORDS = {
    "pass": "pass",
    "fail": "FAIL",
    "not_exercised": "not exercised",
    "attested": "attested",
    "not_attested": "not attested",
}
ORDER = ("pass", "fail", "not_exercised", "attested", "not_attested")


def summary_line(report: dict[str, Any]) -> str:
    """``partner: PASSED (34 items: 25 pass, 5 not exercised, 4 attested) client ... window ...``"""
    counts = report["summary"]
    parts = [f"{counts[s]} {STATUS_WORDS[s]}" for s in ORDER if counts.get(s)]
    window = report["window"]
    verdict = "PASSED" if report["passed"] else "NOT PASSED"
    return (
        f"{report['surface']}: {verdict} ({len(report['items'])} items: {', '.join(parts)}) "
        f"client {report['client_id']} ({report['environment']}), "
        f"{window['requests']} requests from {window['since']} to {window['until']}"
    )


def evidence_text(evidence: dict[str, Any]) -> str:
    where = []
    if "request_id" in evidence:
        where.append(f"request {evidence['request_id']}")
    if "time" in evidence:
        where.append(evidence["time"])
    if "method" in evidence:
        where.append(f"{evidence['method']} {evidence['route']} → {evidence.get('status')}")
    if "object_type" in evidence:
        where.append(f"{evidence['object_type']} {evidence['object_id']}")
    return f"{'; '.join(where)}: {evidence['note']}" if where else evidence["note"]


def _sections(report: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    sections: list[tuple[str, list[dict[str, Any]]]] = []
    for item in report["items"]:
        if not sections or sections[-1][0] != item["section"]:
            sections.append((item["section"], []))
        sections[-1][1].append(item)
    return sections


def _by_bestow(checklist: dict[str, Any]) -> str:
    if checklist["source"] != "bestow":
        return ""
    return " (written by Bestow from the vendor's documents: the vendor publishes none)"


def markdown(report: dict[str, Any]) -> str:
    checklist = report["checklist"]
    window = report["window"]
    lines = [
        f"# Certification report: {checklist['title']}",
        "",
        f"**{'Passed' if report['passed'] else 'Not passed'}.** {summary_line(report)}",
        "",
        f"- Client: `{report['client_id']}` ({report['environment']})",
        f"- Window: {window['since']} to {window['until']} ({window['source']}"
        + (f", run `{window['run_id']}`" if window.get("run_id") else "")
        + f"), {window['requests']} requests",
        f"- Checklist: {checklist['reference']}"
        + (
            " (written by Bestow: the vendor publishes none)"
            if checklist["source"] == "bestow"
            else ""
        ),
        f"- Judged at {report['judged_at']}",
    ]
    for section, items in _sections(report):
        lines += ["", f"## {section}", ""]
        for item in items:
            mark = {"pass": "x", "attested": "x"}.get(item["status"], " ")
            lines.append(
                f"- [{mark}] **{STATUS_WORDS[item['status']]}** ({item['kind']}) {item['text']} "
                f"`{item['id']}`"
            )
            if item.get("detail"):
                lines.append(f"  - {item['detail']}")
            for evidence in item["evidence"]:
                lines.append(f"  - {evidence_text(evidence)}")
            if item.get("advice"):
                lines.append(f"  - Advice: {item['advice']}")
    return "\n".join(lines) + "\n"


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;margin:0;
background:#f6f7f9}
main{max-width:960px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.1em;margin:28px 0 8px;
border-bottom:1px solid #dde1e7;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 12px;border-radius:6px;font-weight:600;margin:8px 0}
.passed{background:#d9f2e3;color:#125c33}.failed{background:#fbe0df;color:#8a1c17}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
dt{color:#5b6474}dd{margin:0}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde1e7}
th,td{text-align:left;vertical-align:top;padding:8px 10px;border-top:1px solid #e8ebef}
th{background:#eef1f5;font-weight:600;font-size:.9em}
.status{white-space:nowrap;font-weight:600;font-size:.85em}
.s-pass,.s-attested{color:#125c33}.s-fail,.s-not_attested{color:#8a1c17}
.s-not_exercised{color:#7a5b00}
.id{color:#5b6474;font:12px ui-monospace,monospace}
ul{margin:4px 0 0;padding-left:18px}li{font-size:.9em}
.advice{font-size:.9em;color:#34405a;margin-top:4px}
code{font:13px ui-monospace,monospace}
@media (max-width:640px){td.kind,th.kind{display:none}}
@media print{body{background:#fff}}
"""


def html(report: dict[str, Any]) -> str:
    checklist = report["checklist"]
    window = report["window"]
    passed = report["passed"]
    rows = []
    for section, items in _sections(report):
        rows.append(
            f"<h2>{escape(section)}</h2><table><thead><tr><th>Status</th>"
            f'<th>Item</th><th class="kind">Kind</th></tr></thead><tbody>'
        )
        for item in items:
            details = []
            if item.get("detail"):
                details.append(f"<li>{escape(item['detail'])}</li>")
            details += [f"<li>{escape(evidence_text(e))}</li>" for e in item["evidence"]]
            advice = (
                f'<div class="advice"><strong>Advice:</strong> {escape(item["advice"])}</div>'
                if item.get("advice")
                else ""
            )
            rows.append(
                f'<tr><td class="status s-{escape(item["status"])}">'
                f"{escape(STATUS_WORDS[item['status']])}</td>"
                f'<td>{escape(item["text"])} <span class="id">{escape(item["id"])}</span>'
                f"{'<ul>' + ''.join(details) + '</ul>' if details else ''}{advice}</td>"
                f'<td class="kind">{escape(item["kind"])}</td></tr>'
            )
        rows.append("</tbody></table>")
    run = f", run <code>{escape(window['run_id'])}</code>" if window.get("run_id") else ""
    source = _by_bestow(checklist)
    span = (
        f"{escape(window['since'])} to {escape(window['until'])} "
        f"({escape(window['source'])}{run}), {window['requests']} requests"
    )
    client = f"<code>{escape(report['client_id'])}</code> ({escape(report['environment'])})"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Certification report: {escape(checklist["title"])}</title>
<style>{_CSS}</style></head>
<body><main>
<h1>Certification report: {escape(checklist["title"])}</h1>
<div class="verdict {"passed" if passed else "failed"}">{"Passed" if passed else "Not passed"}</div>
<p>{escape(summary_line(report))}</p>
<dl>
<dt>Client</dt><dd>{client}</dd>
<dt>Window</dt><dd>{span}</dd>
<dt>Checklist</dt><dd>{escape(checklist["reference"])}{escape(source)}</dd>
<dt>Judged at</dt><dd>{escape(report["judged_at"])}</dd>
</dl>
{"".join(rows)}
</main></body></html>
"""
