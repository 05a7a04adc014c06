"""The counter terminal: composes dosing, households and labelling for a person at the counter.
Scans (keyboard-wedge or serial) are interpreted here: a patient card brings up the patient, a
Dosekeeper label is checked against the patient at the counter (the right bottle to the right
patient), a medicine pack's expiry is checked."""
