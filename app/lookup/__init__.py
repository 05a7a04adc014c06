"""The last-dose look-up for hospitals, custody and out-of-hours services (issue 19 §4).

Out of hours a ward or custody nurse cannot phone the pharmacy. A clinician account, or a
contact holding a signed look-up link the pharmacy sent, asks by NHS number and is told only
what keeps the patient from a withheld or a doubled dose: who the record is (name and date of
birth, to confirm identity), the current product and daily dose, the last dose taken (its date,
supervised or take-home, how many days went home), whether the counter is blocked today (a plain
category, never the household behind it) or the prescription suspended, and the dispensing
pharmacy's contact details. Nothing else leaves: the answer's fields are a fixed set
(`schemas.LookupRead`, forbidding extras) checked by the leak test (H-27.1).

Invariants, and what enforces them:
- A clinician account does the look-up and nothing else: `app.auth.deps.get_actor` refuses the
  role on every other route; `app.auth.policy` lets it see no pharmacy or patient.
- A link looks up only the issuing pharmacy's patients, and answers a patient outside that
  exactly as an unknown number (`service.look_up`).
- A link is HMAC-signed with the service's secret key and kept only as a SHA-256 hash, so a
  revoked or expired one is refused (`links.py`).
- Every look-up, found or not, is a row of `lookup_events` (append-only: database triggers)
  and, when a patient was found, an audit event on the patient (`lookup.last_dose`); the rate
  limit counts those rows, so it holds across processes.

It reads the counter's decision (`app.dosing.counter.views`) and the facts behind it, so it
sits above dosing; the counter's landing page shows its log, so it sits below the counter.
"""
