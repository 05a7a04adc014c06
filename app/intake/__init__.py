"""Prescription intake: a prescription's life in the pharmacy, from paper to the ledger.

Transcription, the second pharmacist's check, supersession, cancellation, the prescriber's
release after missed doses, and re-planning schedules around closures. These use cases read
the prescription (app.prescriptions), write the ledger through dosing's ledger API
(app.dosing.ledger) and raise safeguarding alerts, so they sit above all three.
"""
