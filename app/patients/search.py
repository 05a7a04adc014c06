"""Finding patients: the search box reads a name ("Family, Given" or part of either), a date of
birth or an NHS number, and answers with the patients the caller may see; every search is
logged, even one that finds nobody.

Reading what was typed (UK dates, NHS numbers with spaces, `%` and `_` as letters) is a concern
of its own, so it sits apart from `app.patients.service`, which registers, reads and changes a
patient.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, or_, select

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.db import UnitOfWork
from app.errors import InvalidInput
from app.patients.models import Patient
from app.patients.rules import normalise_nhs_number

MIN_NAME_QUERY = 2


def _date_searched(q: str) -> date | None:
    """A date of birth as people write it in the UK (`09/06/1984`, `9/6/1984`, `09-06-1984`,
    `09.06.1984`) or as YYYY-MM-DD; None when `q` is not a date. A day/month-shaped text that is
    not a real day is refused rather than searched for as a name."""
    uk = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", q)
    if uk:
        day, month, year = (int(part) for part in uk.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise InvalidInput(
                "q", "date", "is not a real date (write a date of birth as dd/mm/yyyy)"
            ) from None
    try:
        return date.fromisoformat(q)
    except ValueError:
        return None


def _like(text: str) -> str:
    # `%` and `_` are letters here, not wildcards: `q=%` used to list the whole pharmacy.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_filter(q: str) -> ColumnElement[bool]:
    q = q.strip()
    digits = normalise_nhs_number(q)
    if digits.isdigit() and len(digits) == 10:
        return Patient.nhs_number == digits
    born = _date_searched(q)
    if born is not None:
        return Patient.date_of_birth == born
    family, comma, given = q.partition(",")
    if comma and family.strip():
        # "Family, Given" as a register or a prescription writes it: the family name starts
        # with the first part and the given name with the second (which may be empty).
        family_like = _like(family.strip())[1:]
        given_like = _like(given.strip())[1:]
        return and_(
            func.lower(Patient.family_name).like(family_like, escape="\\"),
            func.lower(Patient.given_name).like(given_like, escape="\\"),
        )
    if len(q) < MIN_NAME_QUERY:
        raise InvalidInput(
            "q", "min_length", f"a name search needs at least {MIN_NAME_QUERY} characters"
        )
    like = _like(q)
    full = func.lower(Patient.given_name + " " + Patient.family_name)
    return or_(
        func.lower(Patient.family_name).like(like, escape="\\"),
        func.lower(Patient.given_name).like(like, escape="\\"),
        full.like(like, escape="\\"),
    )


def search_patients(
    uow: UnitOfWork,
    *,
    actor: Actor,
    q: str | None,
    household_id: UUID | None = None,
    offset: int,
    limit: int,
    now: datetime,
) -> tuple[list[Patient], bool]:
    """Patients the caller may see, by name ("Family, Given" or part of either), date of birth
    (dd/mm/yyyy or YYYY-MM-DD) or NHS number (spaces and hyphens ignored)."""
    with uow:
        query = select(Patient)
        if actor.role in CLINICIANS:
            if actor.contact_id is None:
                return [], False
            query = query.where(
                or_(
                    Patient.key_worker_id == actor.contact_id,
                    Patient.prescriber_id == actor.contact_id,
                )
            )
        else:
            scope = pharmacy_scope(actor)
            if scope is not None:
                query = query.where(Patient.pharmacy_id == scope)
        if q:
            query = query.where(_search_filter(q))
        if household_id is not None:
            query = query.where(Patient.household_id == household_id)
        rows = list(
            uow.session.scalars(
                query.order_by(Patient.family_name, Patient.given_name, Patient.id)
                .offset(offset)
                .limit(limit + 1)
            )
        )
        rows, more = rows[:limit], len(rows) > limit
        # Logged even when nothing is found: probing NHS numbers must leave a trace. The event
        # names every patient the search returned (who saw which record, when).
        audit_service.record(
            uow.session,
            actor,
            "patient.searched",
            entity="patient",
            entity_id="-",
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"results": len(rows), "patient_ids": [p.id for p in rows]},
        )
        uow.commit()
        return rows, more
