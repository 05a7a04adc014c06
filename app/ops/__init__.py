"""Operating the service: what an operator scrapes, checks and restores."""
