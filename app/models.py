"""Every capability's tables, imported in one place for Alembic and the tests."""

from app.audit.models import AuditEvent
from app.auth.models import AuthSession, LoginAttempt, User
from app.contacts.models import Contact
from app.dosing.models import IdempotentRequest, InstalmentDay, Release
from app.households.models import BoxConfirmation, Child, Household, HouseholdConfirmation
from app.labelling.models import Label, PrintJob
from app.notify.models import Delivery, DeliveryAttempt
from app.patients.models import Patient
from app.pharmacies.models import Closure, Pharmacy
from app.prescriptions.models import Prescription
from app.register.models import RegisterEntry
from app.safeguarding.models import Alert, AlertHistory

__all__ = [
    "Alert",
    "AlertHistory",
    "AuditEvent",
    "AuthSession",
    "BoxConfirmation",
    "Child",
    "Closure",
    "Contact",
    "Delivery",
    "DeliveryAttempt",
    "Household",
    "HouseholdConfirmation",
    "IdempotentRequest",
    "InstalmentDay",
    "Label",
    "LoginAttempt",
    "Patient",
    "Pharmacy",
    "PrintJob",
    "Prescription",
    "RegisterEntry",
    "Release",
    "User",
]
