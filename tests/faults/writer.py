"""A writer process for the kill test: registers households in a loop through the real service
(each one audited, in its own transaction) and prints each id once its commit has returned."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from uuid import UUID

from app.actor import SYSTEM
from app.db import UnitOfWork, make_engine, make_session_factory
from app.households import service as households_service


def main() -> None:
    url, pharmacy_id = sys.argv[1], sys.argv[2]
    uow = UnitOfWork(make_session_factory(make_engine(url)))
    while True:
        household = households_service.create_household(
            uow,
            actor=SYSTEM,
            address="1 Fault Street",
            postcode="FT1 1AA",
            pharmacy_id=UUID(pharmacy_id),
            now=datetime.now(UTC),
        )
        print(household.id, flush=True)  # acknowledged: the commit has returned


if __name__ == "__main__":
    main()
