"""Prescriptions: instalment prescriptions taken in, checked and turned into a dose schedule.
`rules.py` is pure (standard library only) and decides; nothing is accepted while
`check_intake` returns a block, and every failing rule is reported at once. Schedule
invariants, enforced by `rules.generate_schedule` and pinned by its property tests: exactly one
scheduled dose per dose date from start to end, or the date is named in a finding; a dose is
never collected after its date, never on a day the pharmacy is closed, and never before the
start date except under the closed-day wording when the start date itself is closed and the
prescription was already written; an instalment moves only earlier, and only with the Home
Office closed-day wording."""
