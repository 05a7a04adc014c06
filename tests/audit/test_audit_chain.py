"""The audit log (reliability.md §3): every write and every read of a patient or household is
appended to a per-pharmacy hash chain; the database refuses changes; a changed or missing row is
found and named by seq, by the verifier and by `dosekeeper audit verify`."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.cli import cli
from app.config import get_settings
from app.db import UnitOfWork, make_session_factory
from app.households import children as household_children
from app.households import service as households_service
from app.households.models import HouseholdConfirmation
from app.pharmacies import service as pharmacies_service
from tests.databases import Database
from tests.factories import NOW, PASSWORD, World, nhs_number, unique

EVENTS = AuditEvent.__table__


def events_after(uow: UnitOfWork, seq: int) -> list[AuditEvent]:
    with uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
            )
        )


def last_seq(uow: UnitOfWork) -> int:
    with uow:
        return uow.session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0


def new_pharmacy(uow: UnitOfWork) -> Any:
    return pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name=unique("Pharmacy "),
        ods_code=unique("A")[:8].upper(),
        address="1 Chain Street",
        phone="01632 960555",
        open_weekdays=(0, 1, 2, 3, 4),
        now=NOW,
    )


# ---------------------------------------------------------------------------------------------
# Every write (and every read of a patient or household) appends one event.


def write_calls(world: World) -> dict[str, Any]:
    """Each call does one thing through the API and returns (response, entity id)."""
    household = world.household()
    patient = world.patient(household["id"])

    def post(path: str, body: dict[str, Any], role: str = "pharmacist") -> Any:
        response = world.post(path, body, role=role)
        return response, response.json().get("id")

    return {
        "patient.registered": lambda: post(
            "/api/v1/patients",
            {
                "given_name": "Audit",
                "family_name": unique("Trail"),
                "date_of_birth": "1979-04-02",
                "nhs_number": nhs_number(),
                "pharmacy_id": str(world.home.pharmacy_id),
            },
        ),
        "patient.viewed": lambda: (world.get(f"/api/v1/patients/{patient['id']}"), patient["id"]),
        "patient.searched": lambda: (
            world.get("/api/v1/patients", params={"q": patient["nhs_number"]}),
            "-",
        ),
        "household.created": lambda: post(
            "/api/v1/households", {"address": "9 Log Lane", "postcode": "LL1 1AA"}
        ),
        "household.viewed": lambda: (
            world.get(f"/api/v1/households/{household['id']}"),
            household["id"],
        ),
        "household.child_added": lambda: (
            world.post(
                f"/api/v1/households/{household['id']}/children",
                {"name": "C.D.", "date_of_birth": "2019-06-01"},
            ),
            household["id"],
        ),
        "household.children_confirmed": lambda: (
            world.post(f"/api/v1/households/{household['id']}/confirmations", {}),
            household["id"],
        ),
        "contact.created": lambda: post(
            "/api/v1/contacts",
            {
                "name": "Kim Worker",
                "organisation": "Service",
                "kind": "key_worker",
                "email": "kim@example.org",
            },
        ),
        "user.created": lambda: post(
            "/api/v1/users",
            {
                "username": unique("audited"),
                "password": "long enough password",
                "role": "technician",
                "display_name": "Audited",
                "pharmacy_id": str(world.home.pharmacy_id),
            },
            role="admin",
        ),
        "pharmacy.created": lambda: post(
            "/api/v1/pharmacies",
            {
                "name": unique("Branch "),
                "ods_code": unique("B")[:8].upper(),
                "address": "4 Log Lane",
                "phone": "01632 960444",
                "open_weekdays": [0, 1, 2],
            },
            role="admin",
        ),
        "auth.signed_in": lambda: (
            world.client.post(
                "/api/v1/auth/token",
                data={"username": world.home.usernames["pharmacist"], "password": PASSWORD},
            ),
            str(world.home.users["pharmacist"]),
        ),
    }


ACTIONS = [
    "patient.registered",
    "patient.viewed",
    "patient.searched",
    "household.created",
    "household.viewed",
    "household.child_added",
    "household.children_confirmed",
    "contact.created",
    "user.created",
    "pharmacy.created",
    "auth.signed_in",
]


def test_every_write_and_every_record_read_appends_one_audit_event(
    world: World, uow: UnitOfWork, subtests: pytest.Subtests
) -> None:
    calls = write_calls(world)
    assert set(calls) == set(ACTIONS)

    for action in ACTIONS:
        with subtests.test(action):
            before = last_seq(uow)

            response, entity_id = calls[action]()

            assert response.status_code in (200, 201), response.text
            [event] = events_after(uow, before)
            assert event.action == action
            assert event.entity_id == str(entity_id)
            role = "admin" if action in ("user.created", "pharmacy.created") else "pharmacist"
            assert event.actor_id == world.home.users[role]
            assert event.actor == world.home.usernames[role]
            assert event.at == NOW


@pytest.mark.parametrize("action", ["patient.viewed", "household.viewed"])
def test_a_read_by_someone_with_no_pharmacy_is_logged_in_the_records_pharmacy_chain(
    world: World, uow: UnitOfWork, action: str
) -> None:
    household = world.household()
    patient = world.patient(household["id"])
    path = (
        f"/api/v1/patients/{patient['id']}"
        if action == "patient.viewed"
        else f"/api/v1/households/{household['id']}"
    )
    before = last_seq(uow)

    assert world.get(path, role="key_worker").status_code == 200

    [event] = events_after(uow, before)
    assert event.action == action
    assert event.actor_id == world.home.users["key_worker"]
    # The pharmacy's own chain holds every access to its records, whoever made it.
    assert event.chain == str(world.home.pharmacy_id)


def test_a_refused_request_appends_only_the_record_of_the_refusal(
    world: World, uow: UnitOfWork
) -> None:
    before = last_seq(uow)

    assert world.get(f"/api/v1/patients/{uuid.uuid4()}").status_code == 404
    assert world.post("/api/v1/pharmacies", {}, role="pharmacist").status_code == 422

    [event] = events_after(uow, before)
    assert event.action == "access.refused"
    assert event.actor_id == world.home.users["pharmacist"]
    assert event.facts["code"] == "not_found"


def test_facts_are_stored_canonically_and_never_carry_names(world: World, uow: UnitOfWork) -> None:
    household = world.household()
    before = last_seq(uow)

    patient = world.patient(household["id"], given_name="Unmistakable")

    [event] = events_after(uow, before)
    assert event.facts == {"household_id": household["id"]}
    assert "Unmistakable" not in str(event.facts)
    assert patient["nhs_number"] not in str(event.facts)


# ---------------------------------------------------------------------------------------------
# Concurrency: the chain never forks.


def test_the_chain_stays_intact_under_concurrent_writes(
    database: Database, uow: UnitOfWork
) -> None:
    pharmacy = new_pharmacy(uow)
    factory = make_session_factory(database.engine)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            household_id = None
            for i in range(10):
                own = UnitOfWork(factory)  # each write in its own unit of work and session
                if household_id is None or i % 2:
                    household_id = households_service.create_household(
                        own,
                        actor=SYSTEM,
                        address=f"{n}-{i} Race Road",
                        postcode="RR1 1AA",
                        pharmacy_id=pharmacy.id,
                        now=NOW,
                    ).id
                else:
                    household_children.add_child(
                        own,
                        actor=SYSTEM,
                        household_id=household_id,
                        name="R.R.",
                        date_of_birth=date(2020, 1, 1),
                        protection_status="none",
                        social_worker_id=None,
                        lives_from=None,
                        today=NOW.date(),
                        now=NOW,
                    )
        except BaseException as exc:  # surfaced below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with uow:
        report = audit_service.verify(uow.session)
        chain = list(
            uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == str(pharmacy.id))
                .order_by(AuditEvent.seq)
            )
        )
        forks = uow.session.execute(
            select(AuditEvent.chain, AuditEvent.prev_hash)
            .group_by(AuditEvent.chain, AuditEvent.prev_hash)
            .having(func.count() > 1)
        ).all()
    assert report.ok, report.reason
    assert len(chain) == 1 + 8 * 10
    assert forks == []
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]


# ---------------------------------------------------------------------------------------------
# The database refuses changes, whoever asks.


def some_seq(database: Database) -> int:
    with database.engine.connect() as conn:
        seq = conn.execute(select(func.min(EVENTS.c.seq))).scalar()
    assert seq is not None
    return int(seq)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = :seq",
        "UPDATE audit_events SET facts = facts WHERE seq = :seq",
        "DELETE FROM audit_events WHERE seq = :seq",
        "DELETE FROM audit_events",
    ],
)
@pytest.mark.hazard("H-15.1")
def test_the_database_refuses_to_change_or_remove_audit_events(
    world: World, database: Database, statement: str
) -> None:
    seq = some_seq(database)
    with database.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(EVENTS)).scalar()
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement), {"seq": seq})
        conn.rollback()
        assert conn.execute(select(func.count()).select_from(EVENTS)).scalar() == count
        assert conn.execute(select(EVENTS.c.actor).where(EVENTS.c.seq == seq)).scalar() != "mallory"


@pytest.mark.postgres  # SQLite has no TRUNCATE; DELETE without WHERE is refused above
def test_the_database_refuses_to_truncate_audit_events(database: Database) -> None:
    with database.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("TRUNCATE audit_events"))


@pytest.mark.hazard("H-15.1")
def test_the_database_refuses_to_change_a_household_confirmation(
    world: World, database: Database
) -> None:
    household = world.household()
    assert world.post(f"/api/v1/households/{household['id']}/confirmations", {}).status_code == 201
    confirmations = HouseholdConfirmation.__table__
    mine = confirmations.c.household_id == uuid.UUID(household["id"])
    with database.engine.connect() as conn:
        for statement in (
            update(confirmations).where(mine).values(children_count=7),
            delete(confirmations).where(mine),
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(statement)
            conn.rollback()
        assert conn.execute(select(confirmations.c.children_count).where(mine)).scalar() == 0


# ---------------------------------------------------------------------------------------------
# Tampering by someone who can drop the trigger (a DBA) is found and named.


def chain_on(database: Database, households: int = 4) -> tuple[UnitOfWork, list[int]]:
    """A fresh database holding one pharmacy's chain: pharmacy.created then households."""
    uow = UnitOfWork(make_session_factory(database.engine))
    pharmacy = new_pharmacy(uow)
    for i in range(households):
        households_service.create_household(
            uow,
            actor=SYSTEM,
            address=f"{i} Tamper Row",
            postcode="TR1 1AA",
            pharmacy_id=pharmacy.id,
            now=NOW,
        )
    with uow:
        seqs = list(uow.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert len(seqs) == households + 1
    return uow, seqs


def drop_append_only_trigger(database: Database) -> None:
    with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def verify(uow: UnitOfWork) -> audit_service.ChainReport:
    with uow:
        return audit_service.verify(uow.session)


def snapshot(database: Database, *seqs: int) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(select(EVENTS).where(EVENTS.c.seq.in_(seqs)).order_by(EVENTS.c.seq))
        return [dict(row) for row in rows.mappings()]


def write_rows(database: Database, rows: list[dict[str, Any]]) -> None:
    """Overwrite events by seq (the trigger is gone); hashes go last, as they are unique."""
    with database.engine.begin() as conn:
        for row in rows:
            conn.execute(
                update(EVENTS).where(EVENTS.c.seq == row["seq"]).values(hash=f"{row['seq']:064d}")
            )
        for row in rows:
            conn.execute(
                update(EVENTS)
                .where(EVENTS.c.seq == row["seq"])
                .values(**{k: v for k, v in row.items() if k != "seq"})
            )


CHANGES = {
    "facts": {"household_id": None, "forged": True},
    "actor": "someone-else",
    "action": "household.viewed",
    "entity_id": "00000000-0000-4000-8000-000000000000",
    "at": NOW - timedelta(days=1),
    "actor_id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
    "chain": "global",
}


@pytest.mark.hazard("H-15.2")
def test_an_altered_rewritten_or_reordered_event_is_named_by_its_seq(
    fresh_database: Database, subtests: pytest.Subtests
) -> None:
    uow, seqs = chain_on(fresh_database)
    report = verify(uow)
    assert report.ok
    assert (report.events, report.chains) == (len(seqs), 1)
    drop_append_only_trigger(fresh_database)  # as a DBA could
    target = seqs[2]
    [original] = snapshot(fresh_database, target)

    for column, value in CHANGES.items():
        with subtests.test(f"{column} altered"):
            write_rows(fresh_database, [{**original, column: value}])
            try:
                report = verify(uow)
            finally:
                write_rows(fresh_database, [original])

            assert report.broken_at == target
            # Moved to another chain, it no longer links there: named all the same.
            reason = "does not link" if column == "chain" else "altered"
            assert reason in (report.reason or "")
            assert verify(uow).ok, "the original content verifies again"

    with subtests.test("rewritten with a fresh hash, without the key"):
        forged = {**original, "facts": {"forged": True}}
        with uow:
            event = uow.session.get(AuditEvent, target)
            assert event is not None
            body = {**audit_service._body(event), "facts": forged["facts"]}
        forged["hash"] = audit_service._digest(original["prev_hash"], body, None)
        write_rows(fresh_database, [forged])
        try:
            report = verify(uow)
        finally:
            write_rows(fresh_database, [original])

        assert report.broken_at == target, "the forger does not hold the audit key"
        assert "altered" in (report.reason or "")

    with subtests.test("two events swapped"):
        first, second = snapshot(fresh_database, seqs[1], seqs[2])
        write_rows(
            fresh_database, [{**second, "seq": first["seq"]}, {**first, "seq": second["seq"]}]
        )
        try:
            report = verify(uow)
        finally:
            write_rows(fresh_database, [first, second])

        assert report.broken_at == seqs[1]

    assert verify(uow).ok


def test_a_deleted_middle_event_is_named_by_the_event_after_it(fresh_database: Database) -> None:
    uow, seqs = chain_on(fresh_database)
    drop_append_only_trigger(fresh_database)
    with fresh_database.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == seqs[2]))

    report = verify(uow)

    assert report.broken_at == seqs[3]
    assert "does not link" in (report.reason or "")


# ---------------------------------------------------------------------------------------------
# `dosekeeper audit verify`


@pytest.fixture
def cli_env(fresh_database: Database, tmp_path: Any) -> Iterator[dict[str, str]]:
    """The CLI reads settings from the environment once (cached) and sets up logging. Its data
    folder is the test's own: anchors another test wrote under ./var are not this chain's."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    yield {
        "DOSEKEEPER_DATABASE_URL": fresh_database.url,
        "DOSEKEEPER_ENVIRONMENT": "test",
        "DOSEKEEPER_DATA_DIR": str(tmp_path / "cli-data"),
    }
    get_settings.cache_clear()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.hazard("H-15.2")
def test_the_cli_exits_0_on_an_intact_chain_and_1_naming_the_seq_on_a_tampered_one(
    fresh_database: Database, cli_env: dict[str, str]
) -> None:
    _, seqs = chain_on(fresh_database)

    intact = CliRunner().invoke(cli, ["audit", "verify"], env=cli_env)

    assert intact.exit_code == 0, intact.output
    assert f"audit chain intact: {len(seqs)} events in 1 chains" in intact.stdout

    drop_append_only_trigger(fresh_database)
    with fresh_database.engine.begin() as conn:
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.seq == seqs[1])
            .values(at=datetime(2020, 1, 1, tzinfo=UTC))
        )

    broken = CliRunner().invoke(cli, ["audit", "verify"], env=cli_env)

    assert broken.exit_code == 1, broken.output
    assert f"audit chain BROKEN at seq {seqs[1]}" in broken.stderr


# ---------------------------------------------------------------------------------------------
# Issue 16 item 12: editing an event and recomputing every later hash, or deleting the newest
# events, passed `audit verify`. The chain is keyed (an HMAC under a key outside the database),
# and `audit verify` compares with the latest anchor by default.


def rewrite_from(database: Database, uow: UnitOfWork, seqs: list[int], *, keyed: bool) -> None:
    """What a DBA without the audit key can do: change an event's facts and recompute every
    hash from there on (plain SHA-256, the only link they can compute), keeping the key id or,
    posing as events from before the chain was keyed, dropping it."""
    with uow:
        events = [uow.session.get(AuditEvent, seq) for seq in seqs]
        bodies = [audit_service._body(e) for e in events if e is not None]
    originals = snapshot(database, *seqs)
    bodies[0] = {**bodies[0], "facts": {"forged": True}}
    prev = originals[0]["prev_hash"]
    rows = []
    for original, body in zip(originals, bodies, strict=True):
        digest = audit_service._digest(prev, body, None)
        rows.append(
            {
                **original,
                "facts": body["facts"],
                "prev_hash": prev,
                "hash": digest,
                "key_id": original["key_id"] if keyed else None,
            }
        )
        prev = digest
    write_rows(database, rows)


@pytest.mark.hazard("H-15.2")
@pytest.mark.parametrize("keyed", [True, False], ids=["key id kept", "posing as unkeyed"])
def test_an_edit_with_every_later_hash_recomputed_is_found_without_the_key(
    fresh_database: Database, keyed: bool
) -> None:
    uow, seqs = chain_on(fresh_database)
    drop_append_only_trigger(fresh_database)

    rewrite_from(fresh_database, uow, seqs[2:], keyed=keyed)
    report = verify(uow)

    assert report.broken_at == seqs[2]
    assert ("altered" if keyed else "not sealed") in (report.reason or "")


def anchored_env(cli_env: dict[str, str], folder: Any) -> dict[str, str]:
    return {**cli_env, "DOSEKEEPER_AUDIT_ANCHOR_DIR": str(folder)}


@pytest.mark.hazard("H-15.2")
def test_deleting_the_newest_events_fails_verify_against_the_latest_anchor(
    fresh_database: Database, cli_env: dict[str, str], tmp_path: Any
) -> None:
    _, seqs = chain_on(fresh_database)
    env = anchored_env(cli_env, tmp_path / "anchors")
    anchored = CliRunner().invoke(cli, ["audit", "anchor"], env=env)
    assert anchored.exit_code == 0, anchored.output
    assert CliRunner().invoke(cli, ["audit", "verify"], env=env).exit_code == 0
    drop_append_only_trigger(fresh_database)
    with fresh_database.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq >= seqs[-2]))

    walked_only = CliRunner().invoke(cli, ["audit", "verify", "--no-anchor"], env=env)
    by_default = CliRunner().invoke(cli, ["audit", "verify"], env=env)

    assert walked_only.exit_code == 0, "the chain that is left links; only the anchor knows"
    assert by_default.exit_code == 1, by_default.output
    assert f"event {seqs[-1]} is missing or changed" in by_default.stderr


def test_a_chain_rewritten_whole_as_unkeyed_fails_verify_against_the_latest_anchor(
    fresh_database: Database, cli_env: dict[str, str], tmp_path: Any
) -> None:
    uow, seqs = chain_on(fresh_database)
    env = anchored_env(cli_env, tmp_path / "anchors")
    assert CliRunner().invoke(cli, ["audit", "anchor"], env=env).exit_code == 0
    drop_append_only_trigger(fresh_database)

    rewrite_from(fresh_database, uow, seqs, keyed=False)
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)

    assert verify(uow).ok, "every link recomputed: the walk alone cannot tell"
    assert result.exit_code == 1, result.output
    assert "missing or changed" in result.stderr


def test_verify_without_any_anchor_says_the_tail_is_unchecked(
    fresh_database: Database, cli_env: dict[str, str], tmp_path: Any
) -> None:
    chain_on(fresh_database)

    result = CliRunner().invoke(
        cli, ["audit", "verify"], env=anchored_env(cli_env, tmp_path / "none")
    )

    assert result.exit_code == 0, result.output
    assert "no audit anchor" in result.stderr


def test_a_rotated_key_still_verifies_what_the_old_one_sealed(fresh_database: Database) -> None:
    from app.audit import keys as audit_keys

    uow, seqs = chain_on(fresh_database, households=1)
    old = audit_keys.keyring()
    rotated = audit_keys.Keyring.of("z" * 40, previous=["unused" * 8])

    with uow:
        assert not audit_service.verify(uow.session, rotated).ok, "the old key is needed"
        with_old = audit_keys.Keyring(rotated.current_id, {**rotated.keys, **old.keys})
        assert audit_service.verify(uow.session, with_old).ok
    assert seqs


def test_close_day_anchors_the_chain(
    fresh_database: Database, cli_env: dict[str, str], tmp_path: Any
) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    pharmacy = new_pharmacy(uow)
    env = anchored_env(cli_env, tmp_path / "anchors")
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()

    closed = CliRunner().invoke(
        cli, ["close-day", "--pharmacy-id", str(pharmacy.id), "--date", yesterday], env=env
    )

    assert closed.exit_code == 0, closed.output
    assert "anchored the audit chain heads" in closed.stdout
    assert (tmp_path / "anchors" / "audit-anchors.jsonl").exists()
    assert CliRunner().invoke(cli, ["audit", "verify"], env=env).exit_code == 0


def test_closing_the_day_from_the_counter_anchors_the_chain_too(world: World) -> None:
    """The counter page closes the day through the API, not the command line: the day's record
    is anchored all the same, with the audit key, where `audit verify` looks for it."""
    anchors = world.settings.anchor_dir / "audit-anchors.jsonl"
    before = anchors.read_text().count("\n") if anchors.exists() else 0

    closed = world.post(
        f"/api/v1/pharmacies/{world.home.pharmacy_id}/close-day",
        {"date": (NOW.date() - timedelta(days=1)).isoformat()},
    )

    assert closed.status_code == 200, closed.text
    assert closed.json()["anchored"] is True
    lines = anchors.read_text().splitlines()
    assert len(lines) == before + 1
    assert '"hmac"' in lines[-1]
