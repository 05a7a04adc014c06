"""The alerts' own queries and their visibility filter: a clinician sees the alerts of the
patients they hold (key worker or prescriber), everyone else their pharmacy's; decided here
once for every read. Also what a contact may see of an alert they were sent (their feed and
the signed acknowledgement page) and the deliveries of each alert."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.db import UnitOfWork
from app.errors import NotFound
from app.households.models import Household
from app.notify.models import Delivery
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertHistory


def visible(query, actor: Actor):  # type: ignore[no-untyped-def]
    if actor.role in CLINICIANS:
        return query.join(Patient, Patient.id == Alert.patient_id).where(
            or_(
                Patient.key_worker_id == actor.contact_id, Patient.prescriber_id == actor.contact_id
            )
        )
    scope = pharmacy_scope(actor)
    if scope is not None:
        query = query.where(Alert.pharmacy_id == scope)
    return query


def list_alerts(
    uow: UnitOfWork,
    *,
    actor: Actor,
    state: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    pharmacy_id: UUID | None = None,
    patient_id: UUID | None = None,
    household_id: UUID | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[Sequence[Alert], bool]:
    with uow:
        query = visible(select(Alert), actor)
        for column, value in (
            (Alert.state, state),
            (Alert.kind, kind),
            (Alert.severity, severity),
            (Alert.pharmacy_id, pharmacy_id),
            (Alert.patient_id, patient_id),
            (Alert.household_id, household_id),
        ):
            if value is not None:
                query = query.where(column == value)
        rows = list(
            uow.session.scalars(
                query.order_by(Alert.created_at.desc(), Alert.id).offset(offset).limit(limit + 1)
            )
        )
        return rows[:limit], len(rows) > limit


def get_alert(session: Session, actor: Actor, alert_id: UUID, *, for_update: bool = False) -> Alert:
    query = visible(select(Alert).where(Alert.id == alert_id), actor)
    if for_update:
        query = query.with_for_update(of=Alert)
    alert: Alert | None = session.scalar(query)
    if alert is None:
        raise NotFound("alert", alert_id)
    return alert


def history(uow: UnitOfWork, *, actor: Actor, alert_id: UUID) -> list[AlertHistory]:
    with uow:
        get_alert(uow.session, actor, alert_id)
        # Steps of one transaction share an instant and ids are random: "raised" is first by
        # definition, the rest keep a stable order (insertion order needs a sequence column).
        return list(
            uow.session.scalars(
                select(AlertHistory)
                .where(AlertHistory.alert_id == alert_id)
                .order_by(
                    AlertHistory.at,
                    case((AlertHistory.action == "raised", 0), else_=1),
                    AlertHistory.id,
                )
            )
        )


def alert_summary(uow: UnitOfWork, alert_id: UUID) -> dict[str, str] | None:
    """What a signed acknowledgement page may show of an alert: kind, severity, the patient's
    initials, the household's postcode district, when it was raised. Nothing that identifies
    a person outright: the link may be forwarded."""

    with uow:
        alert = uow.session.get(Alert, alert_id)
        if alert is None:
            return None
        patient = uow.session.get(Patient, alert.patient_id) if alert.patient_id else None
        household = uow.session.get(Household, alert.household_id) if alert.household_id else None
        return {
            "kind": alert.kind.replace("_", " "),
            "severity": alert.severity,
            "initials": f"{patient.given_name[:1]}.{patient.family_name[:1]}." if patient else "",
            "district": household.postcode.split(" ")[0] if household else "",
            "raised": alert.created_at.strftime("%a %d %b %Y, %H:%M UTC"),
        }


def alerts_for_contact(uow: UnitOfWork, *, contact_id: UUID, limit: int = 100) -> list[Alert]:
    """Alerts a contact was sent, newest first (their Atom feed)."""

    with uow:
        return list(
            uow.session.scalars(
                select(Alert)
                .where(
                    Alert.id.in_(select(Delivery.alert_id).where(Delivery.contact_id == contact_id))
                )
                .order_by(Alert.created_at.desc())
                .limit(limit)
            )
        )


def deliveries_for(
    session: Session, alert_ids: Sequence[UUID]
) -> dict[UUID, list[dict[str, object]]]:

    found: dict[UUID, list[dict[str, object]]] = {a: [] for a in alert_ids}
    if not alert_ids:
        return found
    for d in session.scalars(
        select(Delivery).where(Delivery.alert_id.in_(alert_ids)).order_by(Delivery.created_at)
    ):
        found[d.alert_id].append(
            {
                "contact_id": d.contact_id,
                "channel": d.channel,
                "state": d.state,
                "attempts": d.attempts,
                "escalation_level": d.escalation_level,
                "reason": d.reason,
                "last_error": d.last_error,
            }
        )
    return found
