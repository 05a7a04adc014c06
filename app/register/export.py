"""The register in its legal layout (MDR 2001 reg 19): CSV for inspectors and a printable page.

One product per page ("class of drug at the head of each page", reg 20(a)), entries in the
order they were made, receipts and supplies under their own headings, the running balance on
every line, and corrections shown as dated footnotes under the entry they annotate, never in
place of it (reg 20(c)).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, select_autoescape

from app.register.models import RegisterEntry
from app.register.reading import RegisterPage
from app.register.rules import EntryKind

COLUMNS = (
    "line",
    "entry",
    "date of transaction",
    "date entered",
    "name and address (supplier or person supplied)",
    "prescriber (authority to possess)",
    "prescriber address",
    "quantity received (mL)",
    "quantity supplied (mL)",
    "adjustment (mL)",
    "balance (mL)",
    "person collecting",
    "collector name and address (representative or HCP)",
    "ID requested",
    "ID provided",
    "invoice reference",
    "batch",
    "expiry",
    "counted (mL)",
    "variance (mL)",
    "witness",
    "corrects line",
    "reason or explanation",
    "late entry reason",
    "entered by",
    "entered at (UTC)",
    "hash",
)

KIND_NAMES = {
    EntryKind.RECEIPT: "receipt",
    EntryKind.SUPPLY: "supply",
    EntryKind.CORRECTION: "correction",
    EntryKind.BALANCE_CHECK: "balance check",
}


def _yn(value: bool | None) -> str:
    return "" if value is None else ("Y" if value else "N")


def _num(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def row(entry: RegisterEntry, lines: dict[Any, int]) -> dict[str, str]:
    """One register line as the columns above (strings, blank where a heading does not apply)."""
    party = ", ".join(p for p in (entry.party_name, entry.party_address) if p)
    return {
        "line": str(entry.line),
        "entry": KIND_NAMES.get(EntryKind(entry.kind), entry.kind),
        "date of transaction": entry.transaction_date.isoformat(),
        "date entered": entry.entered_on.isoformat(),
        "name and address (supplier or person supplied)": party,
        "prescriber (authority to possess)": entry.prescriber or "",
        "prescriber address": entry.prescriber_address or "",
        "quantity received (mL)": _num(entry.quantity_ml)
        if entry.kind == EntryKind.RECEIPT
        else "",
        "quantity supplied (mL)": _num(entry.quantity_ml) if entry.kind == EntryKind.SUPPLY else "",
        "adjustment (mL)": _num(entry.change_ml) if entry.kind == EntryKind.CORRECTION else "",
        "balance (mL)": _num(entry.balance_ml),
        "person collecting": entry.collector or "",
        "collector name and address (representative or HCP)": entry.collector_details or "",
        "ID requested": _yn(entry.id_asked),
        "ID provided": _yn(entry.id_shown),
        "invoice reference": entry.invoice_ref or "",
        "batch": entry.batch or "",
        "expiry": entry.expiry.isoformat() if entry.expiry else "",
        "counted (mL)": _num(entry.quantity_ml) if entry.kind == EntryKind.BALANCE_CHECK else "",
        "variance (mL)": _num(entry.variance_ml),
        "witness": entry.witness_name or "",
        "corrects line": str(lines.get(entry.corrects_id, "")) if entry.corrects_id else "",
        "reason or explanation": entry.reason or "",
        "late entry reason": entry.late_reason or "",
        "entered by": entry.author_name,
        "entered at (UTC)": _at(entry.created_at),
        "hash": entry.hash,
    }


def to_csv(page: RegisterPage) -> str:
    """The register as CSV: a heading block naming the pharmacy and product, then the lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Controlled drugs register (Schedule 2)"])
    writer.writerow(["pharmacy", page.pharmacy.name, page.pharmacy.ods_code, page.pharmacy.address])
    writer.writerow(["drug", page.product.name, page.product.code])
    writer.writerow(["opening balance (mL)", _num(page.opening_balance_ml)])
    writer.writerow([])
    writer.writerow(COLUMNS)
    for entry in page.entries:
        values = row(entry, page.lines)
        writer.writerow([_safe(values[c]) for c in COLUMNS])
    writer.writerow([])
    writer.writerow(["closing balance (mL)", _num(page.closing_balance_ml)])
    return out.getvalue()


def _safe(value: str) -> str:
    """Neutralise spreadsheet formulas typed into free text (CSV injection)."""
    return (
        "'" + value
        if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(value)
        else value
    )


def _number(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>CD register: {{ product.name }} ({{ pharmacy.name }})</title>
<style>
 body { font: 10pt/1.3 system-ui, sans-serif; margin: 1.5cm; }
 h1 { font-size: 14pt; margin: 0 } h2 { font-size: 11pt; font-weight: normal; margin: .2em 0 1em }
 table { border-collapse: collapse; width: 100% } th, td { border: 1px solid #444; padding: 2px 4px;
 vertical-align: top } th { background: #eee; font-size: 8pt } td.n { text-align: right }
 tr.note td { font-size: 8pt; font-style: italic; border-top: 0 }
 @page { size: A4 landscape; margin: 1cm } @media print { body { margin: 0 } }
</style></head><body>
<h1>Controlled drugs register &mdash; {{ product.name }}</h1>
<h2>{{ pharmacy.name }} ({{ pharmacy.ods_code }}), {{ pharmacy.address }}.
 Schedule 2. Entries in the order made; balance computed by the system.</h2>
<p>Opening balance: <strong>{{ opening }} mL</strong></p>
<table>
<thead>
<tr><th rowspan="2">Line</th><th rowspan="2">Date</th><th rowspan="2">Entry</th>
<th colspan="3">Received</th><th colspan="7">Supplied</th><th rowspan="2">Balance (mL)</th>
<th rowspan="2">Entered by / at</th></tr>
<tr><th>From (name, address)</th><th>Invoice / batch / expiry</th><th>Qty (mL)</th>
<th>To (name, address)</th><th>Prescriber</th><th>Qty (mL)</th><th>Collected by</th>
<th>Collector details</th><th>ID asked</th><th>ID shown</th></tr>
</thead>
<tbody>
{% for r in rows %}
<tr id="line-{{ r.line }}">
<td class="n">{{ r.line }}</td><td>{{ r["date of transaction"] }}</td><td>{{ r.entry }}</td>
{% if r.entry == "receipt" %}
<td>{{ r["name and address (supplier or person supplied)"] }}</td>
<td>{{ r["invoice reference"] }} {{ r.batch }} {{ r.expiry }}</td>
<td class="n">{{ r["quantity received (mL)"] }}</td>
<td colspan="7"></td>
{% elif r.entry == "supply" %}
<td colspan="3"></td>
<td>{{ r["name and address (supplier or person supplied)"] }}</td>
<td>{{ r["prescriber (authority to possess)"] }}{% if r["prescriber address"] %}, {{ r["prescriber address"] }}{% endif %}</td>
<td class="n">{{ r["quantity supplied (mL)"] }}</td><td>{{ r["person collecting"] }}</td>
<td>{{ r["collector name and address (representative or HCP)"] }}</td>
<td>{{ r["ID requested"] }}</td><td>{{ r["ID provided"] }}</td>
{% elif r.entry == "balance check" %}
<td colspan="10">Balance check: counted {{ r["counted (mL)"] }} mL, variance
 {{ r["variance (mL)"] }} mL, witnessed by {{ r.witness }}.
 {{ r["reason or explanation"] }}</td>
{% else %}
<td colspan="10">Correction to line {{ r["corrects line"] }}: {{ r["adjustment (mL)"] }} mL.
 {{ r["reason or explanation"] }}</td>
{% endif %}
<td class="n">{{ r["balance (mL)"] }}</td>
<td>{{ r["entered by"] }}<br>{{ r["entered at (UTC)"] }}
{% if r["late entry reason"] %}<br>Late: {{ r["late entry reason"] }}{% endif %}</td>
</tr>
{% for c in notes.get(r.line, []) %}
<tr class="note"><td></td><td colspan="15">Corrected on {{ c["date of transaction"] }} by
 {{ c["entered by"] }} (line {{ c.line }}): {{ c["reason or explanation"] }}</td></tr>
{% endfor %}
{% endfor %}
</tbody></table>
<p>Closing balance: <strong>{{ closing }} mL</strong></p>
</body></html>
"""
)


def to_html(page: RegisterPage) -> str:
    """A printable A4 page for one product, with corrections as footnotes under their line."""
    rows = [row(e, page.lines) for e in page.entries]
    notes: dict[str, list[dict[str, str]]] = {}
    for entry in page.entries:
        for correction in page.corrections.get(entry.id, []):
            notes.setdefault(str(entry.line), []).append(row(correction, page.lines))
    return _PAGE.render(
        product=page.product,
        pharmacy=page.pharmacy,
        opening=_num(page.opening_balance_ml),
        closing=_num(page.closing_balance_ml),
        rows=rows,
        notes=notes,
    )
