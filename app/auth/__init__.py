"""Accounts and access: users with one role, argon2id password hashes, server-side sessions
and bearer tokens (stored as SHA-256 hashes only), login rate limiting, and the tenancy rule:
staff see only their own pharmacy's records, and another pharmacy's ids answer 404.
Invariants: usernames are unique (`uq_users_username`); a token is usable only while
`revoked_at` is null and `expires_at` is in the future."""
