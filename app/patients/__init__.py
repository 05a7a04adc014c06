"""Patients: identity (NHS number with its Modulus 11 check), the nominated pharmacy, the
household, key worker and prescriber. Invariants: one record per NHS number
(`uq_patients_nhs_number`); the patient-card code is random and never embeds the NHS number
(`uq_patients_card_code`)."""
