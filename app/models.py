"""Every capability's tables, imported in one place for Alembic and the tests."""

from app.audit.models import AuditEvent
from app.auth.models import AuthSession, LoginAttempt, User
from app.contacts.models import Contact
from app.dosing.exception_models import DoseException, DoseReplacement, ReturnDestruction
from app.dosing.models import (
    HandoverRefusal,
    InstalmentDay,
    LastDoseRecord,
    Reassessment,
    Release,
    RepresentativeAuthorisation,
)
from app.households.models import (
    BoxConfirmation,
    Child,
    Household,
    HouseholdChange,
    HouseholdConfirmation,
)
from app.http.models import IdempotentRequest
from app.injections.models import InjectionAdministration, InjectionCourse, InjectionCourseStop
from app.labelling.models import Label, PrintJob
from app.lookup.models import LookupEvent, LookupLink
from app.notify.models import Delivery, DeliveryAttempt
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Closure, Pharmacy
from app.prescriptions.models import Prescription, SuspensionEvent
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
    "DoseException",
    "DoseReplacement",
    "HandoverRefusal",
    "Household",
    "HouseholdChange",
    "HouseholdConfirmation",
    "IdempotentRequest",
    "InjectionAdministration",
    "InjectionCourse",
    "InjectionCourseStop",
    "InstalmentDay",
    "Label",
    "LastDoseRecord",
    "LoginAttempt",
    "LookupEvent",
    "LookupLink",
    "Patient",
    "PatientChange",
    "Pharmacy",
    "Prescription",
    "SuspensionEvent",
    "PrintJob",
    "Reassessment",
    "RegisterEntry",
    "Release",
    "RepresentativeAuthorisation",
    "ReturnDestruction",
    "User",
]
