"""Pharmacies: the tenant boundary for staff, with the weekly opening days and dated closures
that decide when an instalment can be collected. Invariant: one closure per pharmacy per date
(`uq_closures_pharmacy_id_closed_on`)."""
