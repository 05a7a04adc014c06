"""Every capability's tables, imported in one place for Alembic and the tests."""

from app.audit.models import AuditEvent
from app.auth.models import AuthSession, LoginAttempt, User
from app.contacts.models import Contact
from app.households.models import Child, Household, HouseholdConfirmation
from app.patients.models import Patient
from app.pharmacies.models import Closure, Pharmacy

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Child",
    "Closure",
    "Contact",
    "Household",
    "HouseholdConfirmation",
    "LoginAttempt",
    "Patient",
    "Pharmacy",
    "User",
]
