"""The loopback load run (reliability §5.4, checklist row 41): locust users acting as counter
terminals and back-office staff across several pharmacies, then the invariants re-checked."""
