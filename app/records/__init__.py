"""The record pages: the patient list and registration, the patient page and card, the
household list and the household page.

A composition above patients, households, prescriptions, contacts and the household view in
`app.reports` (as `app.counter` composes the counter), so that none of those capabilities
imports another to draw a page.
"""
