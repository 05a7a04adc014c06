"""Reports built from the dispensing record: adherence for prescribers, the pharmacy's chronology
for a child-protection conference, the commissioner's summary, and the FHIR R4 export.

Invariants: reports only read; each is computed from the ledger rows themselves (never from a
second copy), each event appears exactly once, a missed or withheld day is always an explicit
record rather than an absence, and every read of patient data is audited.
"""
