"""The prolonged-release buprenorphine injections a course can name: data, pure.

Each presentation carries its strengths, its dosing interval and the window either side of the
due date in which the licence lets a dose be given (the window is also the longest the overdue
tolerance may be: `PolicySettings.injection_overdue_weekly_days` / `…_monthly_days`).

Buvidal (Camurus) is the prolonged-release injection marketed in the UK. Its SmPC (section 4.2)
gives weekly doses of 8, 16, 24 and 32 mg and monthly doses of 64, 96, 128 and 160 mg; a weekly
dose may be given up to 2 days before or after the weekly time point and a monthly dose up to
1 week before or after the monthly time point. "Monthly" is taken as every 28 days (the earlier
due date, so the safer one): see docs/decisions.md ([UNVERIFIED] there). Sublocade is left out:
not marketed in the UK as far as we could confirm. dm+d codes are not recorded here until they
are confirmed against the dm+d browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["PRODUCTS", "SITES", "InjectionProduct", "Presentation"]


class Presentation(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class InjectionProduct:
    code: str
    name: str
    presentation: Presentation
    strengths_mg: tuple[int, ...]
    interval_days: int  # from one dose to the next
    window_days: int  # a dose may be given this many days either side of its due date
    dmd_code: str | None = None  # only once confirmed


PRODUCTS: Mapping[str, InjectionProduct] = MappingProxyType(
    {
        "buvidal-weekly": InjectionProduct(
            code="buvidal-weekly",
            name="Buvidal weekly (buprenorphine prolonged-release injection)",
            presentation=Presentation.WEEKLY,
            strengths_mg=(8, 16, 24, 32),
            interval_days=7,
            window_days=2,
        ),
        "buvidal-monthly": InjectionProduct(
            code="buvidal-monthly",
            name="Buvidal monthly (buprenorphine prolonged-release injection)",
            presentation=Presentation.MONTHLY,
            strengths_mg=(64, 96, 128, 160),
            interval_days=28,
            window_days=7,
        ),
    }
)

# Where a subcutaneous dose may go (Buvidal SmPC 4.2: buttock, thigh, abdomen or upper arm,
# rotating sites), in the words a record uses.
SITES: Mapping[str, str] = MappingProxyType(
    {
        "abdomen": "abdomen",
        "thigh": "thigh",
        "buttock": "buttock",
        "upper_arm": "upper arm",
    }
)
