"""The audit log: every write and every read of a patient or household record, appended to a
hash chain per pharmacy (plus one "global" chain). Rows are never updated or deleted: triggers
refuse it on both databases. Appends to one chain are serialised (PostgreSQL advisory lock,
SQLite BEGIN IMMEDIATE) so the chain never forks."""
