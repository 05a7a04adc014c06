"""Dosing: instalment days, counter decisions, handover, withhold and end-of-day close.

Invariants:
- One dose per patient per medicine per dose date, enforced by a unique index on the dose
  ledger, never by a read-then-write check.
- A dose leaves `due` once, for a final state (supervised, collected, missed, withheld); a
  correction is a new linked row, never an edit.
- A missed or withheld dose is never supplied later; a withheld dose is never a supply.
- Counter decisions come from `rules.decide()`, which is pure and lists every reason.
"""
