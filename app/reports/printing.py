"""Report bodies as JSON-ready dicts, CSV and a printable page. Formatting only: the figures
come from `app.reports.rules` via the report use cases."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from jinja2 import Environment, select_autoescape

from app import kit
from app.reports.caseload_report import Caseload
from app.reports.conference import ConferenceReport
from app.reports.rules import ADHERENCE_DEFINITIONS, Event

CASELOAD_COLUMNS = (
    "patient_id",
    "family_name",
    "given_name",
    "nhs_number",
    "pharmacy",
    "product",
    "daily_dose_mg",
    "supervised",
    "collected",
    "take_home_collections",
    "missed",
    "withheld",
    "not_dispensed",
    "due",
    "attended_percent",
    "longest_missed_streak",
    "current_missed_streak",
    "last_attended",
    "open_alerts",
)


def caseload_body(report: Caseload) -> dict[str, Any]:
    return {
        "from": report.start,
        "to": report.end,
        "items": [
            {
                "patient_id": r.patient.id,
                "given_name": r.patient.given_name,
                "family_name": r.patient.family_name,
                "nhs_number": r.patient.nhs_number,
                "pharmacy_id": r.patient.pharmacy_id,
                "pharmacy": r.pharmacy_name,
                "product": r.product,
                "daily_dose_mg": r.daily_dose_mg,
                **asdict(r.summary),
                "open_alerts": r.open_alerts,
            }
            for r in report.rows
        ],
        "totals": report.totals,
        "definitions": dict(ADHERENCE_DEFINITIONS),
        "next": None,
    }


def caseload_csv(report: Caseload) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CASELOAD_COLUMNS)
    for item in caseload_body(report)["items"]:
        writer.writerow(
            [
                _safe("" if item.get(column) is None else str(item.get(column)))
                for column in CASELOAD_COLUMNS
            ]
        )
    return out.getvalue()


_safe = kit.spreadsheet_safe


def event_body(event: Event, names: dict[str, str]) -> dict[str, Any]:
    return {
        "day": event.day,
        "at": event.at,
        "kind": str(event.kind),
        "source": event.source,
        "patient_id": event.patient_ref,
        "patient_name": names.get(event.patient_ref or ""),
        "summary": event.summary,
        "dose_dates": list(event.dose_dates),
        "dose_mg": event.dose_mg,
        "details": dict(event.details),
    }


def conference_body(report: ConferenceReport) -> dict[str, Any]:
    a = report.analysis
    return {
        "household": {
            "id": report.household.id,
            "address": report.household.address,
            "postcode": report.household.postcode,
        },
        "from": report.start,
        "to": report.end,
        "generated_at": report.generated_at,
        "members": [
            {
                "id": m.id,
                "given_name": m.given_name,
                "family_name": m.family_name,
                "date_of_birth": m.date_of_birth,
                "pharmacy_id": m.pharmacy_id,
            }
            for m in report.members
        ],
        "members_not_shown": report.members_not_shown,
        "children": report.children,
        "regimes": report.regimes,
        "home_safety": report.home_safety,
        "chronology": [event_body(e, report.names) for e in report.chronology],
        "analysis": {
            "attendance_percent": a.attendance_percent,
            "longest_gap_days": a.longest_gap_days,
            "trend": a.trend,
            "intoxicated_events": a.intoxicated_events,
            "child_seen_events": a.child_seen_events,
            "take_home_collections": a.take_home_collections,
            "take_home_mg": a.take_home_mg,
            "box_confirmations": a.box_confirmations,
            "alerts_raised": a.alerts_raised,
            "alerts_acknowledged": a.alerts_acknowledged,
            "median_minutes_to_acknowledge": a.median_minutes_to_acknowledge,
            "patients": [
                {**asdict(p), "patient_name": report.names.get(p.patient_ref)} for p in a.patients
            ],
            "statements": list(a.statements),
        },
    }


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_CONFERENCE = _ENV.from_string(
    """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>Pharmacy report for a child protection conference</title>
<style>
 body { font: 10.5pt/1.4 system-ui, sans-serif; margin: 2cm; max-width: 60em }
 h1 { font-size: 15pt } h2 { font-size: 12pt; margin-top: 1.5em }
 table { border-collapse: collapse; width: 100% } th, td { border: 1px solid #555;
 padding: 3px 5px; vertical-align: top; text-align: left } th { background: #eee }
 .muted { color: #444 } @page { size: A4; margin: 1.5cm } @media print { body { margin: 0 } }
</style></head><body>
<h1>Community pharmacy report for a child protection conference</h1>
<p class="muted">Household at {{ household.address }}, {{ household.postcode }}.
 Period {{ start }} to {{ end }}. Prepared {{ generated }} from the dispensing record; every
 event is listed once, in date order.</p>
<h2>Who lives there</h2>
<ul>
{% for m in members %}<li>{{ m.given_name }} {{ m.family_name }} (born {{ m.date_of_birth }}):
 methadone patient</li>{% endfor %}
{% for c in children %}<li>{{ c.name }}, aged {{ c.age_years }}
 ({{ c.protection_status | replace("_", " ") }})</li>{% endfor %}
</ul>
{% if members_not_shown %}<p>{{ members_not_shown }} other household member(s) use another
 pharmacy and are not included.</p>{% endif %}
<h2>Each patient's regime now</h2>
<ul>
{% for r in regimes %}<li>{{ r.patient_name }}: {{ r.product or "no current prescription" }}
{% if r.daily_dose_mg %}{{ r.daily_dose_mg | string | replace(".00", "") }} mg a day; supervised on
 {{ r.supervised_days | join(", ") or "no days" }}; collects on
 {{ r.collection_days | join(", ") or "-" }}{% endif %}{% if r.supervised_percent is not none %};
 {{ r.supervised_percent }}% of dose days supervised over the last 14 days{% endif %}{% if
 r.takes_methadone_home %}; takes methadone home{% endif %}.</li>{% endfor %}
</ul>
<h2>Naloxone and safe storage</h2>
<ul>{% if home_safety.naloxone_in_date %}<li>Take-home naloxone in date is held in the home.</li>
{% elif home_safety.naloxone %}<li>The take-home naloxone on record had expired by {{ end }}.</li>
{% else %}<li>No take-home naloxone on record.</li>{% endif %}
{% for n in home_safety.naloxone %}<li>{{ n.product_name }} supplied {{ n.supplied_on }} to
 {{ n.recipient_name }} by {{ n.supplied_by }}; expires {{ n.expires_on }}
 ({{ "in date" if n.in_date else "expired" }}).</li>{% endfor %}
{% if home_safety.last_storage_advice %}{% set a = home_safety.last_storage_advice %}<li>Safe-storage
 advice last given {{ a.given_on }} to {{ a.given_to }} by {{ a.given_by }}.</li>
{% else %}<li>No safe-storage advice on record.</li>{% endif %}</ul>
<h2>Summary</h2>
<ul>{% for s in statements %}<li>{{ s }}</li>{% endfor %}</ul>
<table><thead><tr><th>Patient</th><th>Dose days with an outcome</th><th>Attended</th>
<th>Missed</th><th>Withheld</th><th>Not dispensed</th><th>Attendance</th>
<th>Longest gap (days)</th><th>Trend</th>
</tr></thead><tbody>
{% for p in patients %}<tr><td>{{ p.patient_name }}</td><td>{{ p.decided_days }}</td>
<td>{{ p.attended_days }}</td><td>{{ p.missed_days }}</td><td>{{ p.withheld_days }}</td>
<td>{{ p.not_dispensed_days }}</td>
<td>{{ p.attendance_percent if p.attendance_percent is not none else "-" }}%</td>
<td>{{ p.longest_gap_days }}</td><td>{{ p.trend }}</td></tr>{% endfor %}
</tbody></table>
<h2>Chronology</h2>
<table><thead><tr><th>Date</th><th>Time (UTC)</th><th>Who</th><th>What happened</th></tr></thead>
<tbody>
{% for e in chronology %}<tr class="{{ e.kind }}"><td>{{ e.day }}</td>
<td>{{ e.at.strftime("%H:%M") }}</td><td>{{ e.patient_name or "household" }}</td>
<td>{{ e.summary }}</td></tr>{% endfor %}
</tbody></table>
</body></html>
"""
)


def conference_html(report: ConferenceReport) -> str:
    body = conference_body(report)
    return _CONFERENCE.render(
        household=body["household"],
        start=report.start.isoformat(),
        end=report.end.isoformat(),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        members=body["members"],
        members_not_shown=report.members_not_shown,
        children=report.children,
        statements=report.analysis.statements,
        patients=body["analysis"]["patients"],
        chronology=body["chronology"],
        regimes=report.regimes,
        home_safety=report.home_safety,
    )
