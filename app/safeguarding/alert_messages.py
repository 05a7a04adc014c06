"""How an alert's message and facts are written, shared by every safeguarding rules module.

Pure (STYLE B3). A message may be sent outside the system, so it is plain and factual and never
holds a name, date of birth or address; the facts hold references and numbers only. These
helpers write the parts every rule repeats (the note on the children living there, amounts in
mg and percentages) in one way, so the patient and household alerts read alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from app.households.rules import ChildFacts
from app.safeguarding.alert_vocabulary import FactValue, children_on_plan

__all__ = ["children_note", "fact_map", "format_mg", "format_percent"]


def children_note(children: tuple[ChildFacts, ...]) -> str:
    """The sentence on who lives in the household, and how many are known to children's
    social care; empty when no child lives there."""
    if not children:
        return ""
    on_plan = len(children_on_plan(children))
    text = " A child lives" if len(children) == 1 else f" {len(children)} children live"
    text += " in the household"
    if on_plan:
        text += "; one is" if on_plan == 1 else f"; {on_plan} are"
        text += " known to children's social care"
    return text + "."


def fact_map(**values: FactValue) -> Mapping[str, FactValue]:
    """An alert's facts, read-only: references and numbers, never a name."""
    return MappingProxyType(values)


def format_percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal(1))}%"


def format_mg(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
