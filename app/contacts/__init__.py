"""Contacts: the people and teams alerts go to (key workers, prescribers, social workers,
safeguarding leads, the MASH). A contact need not be a user. The webhook secret is shown once
when the contact is created and is kept only to sign deliveries."""
