"""Safeguarding: which facts raise alerts, how urgent they are, and who is told.

Invariants:
- An alert is written in the same transaction as the event that caused it (the outbox), so
  none is lost; alerts and acknowledgements are append-only.
- The same kind for the same subject (patient or household) and day makes one alert.
- Alert messages carry no names, dates of birth or addresses; receivers fetch detail through
  the audited API.
- The rules in `rules.py` are pure: facts in, events out.
"""
