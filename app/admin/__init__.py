"""Administration pages: accounts, pharmacies, contacts and alert routing on one screen.

A composition above auth, pharmacies, contacts and notify (as `app.counter` composes the
counter), so none of those capabilities imports another to draw it."""
