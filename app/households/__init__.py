"""Households: who lives with whom. The household is the unit of safety: children living there,
every methadone patient in it, lockable boxes and the methadone at home. Children are restricted
data; their age is derived from the date of birth, never stored."""
