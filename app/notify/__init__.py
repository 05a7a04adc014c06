"""Getting alerts to people: the transactional outbox, webhook and email channels, the delivery
worker and escalation.

Invariants: a delivery row is written in the same transaction as its alert
(`app.safeguarding.service.raise_alert`); a delivery is never deleted — `dead` is a state shown
to the safeguarding lead; every attempt is kept in `delivery_attempts` (the record of what was
shared, with whom, when and why); `webhook-id` equals the delivery's `event_id` on every retry.
"""
