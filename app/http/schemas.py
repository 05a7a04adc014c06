"""Shared request/response shapes: strict input (unknown fields refused), paged lists.

Every text a client sends is refused (422, naming the field) if it carries a control character
or a bidirectional override: a NUL that PostgreSQL cannot store, an ESC that would drive the label
printer, a right-to-left override that makes a name read differently on screen than in the
record. Free text may hold line breaks and tabs; names and other one-line fields may not. The
OpenAPI schema states the same rule as a `pattern`, so a client (and schemathesis) knows it.
Dates are bounded to a plausible window for the same reason: year 1 or 9999 is a typing error,
and date arithmetic at the ends of the calendar fails.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

T = TypeVar("T")

# Embeddings, overrides and isolates (LRE … RLO, LRI … PDI): the "Trojan Source" characters.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _pattern_class(allowed: str) -> str:
    """A JSON Schema (ECMA-262, also Python `re`) character class of what is refused."""
    refused = [c for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in allowed]
    refused += map(ord, BIDI_CONTROLS)
    runs: list[list[int]] = []
    for code in refused:
        if runs and runs[-1][-1] == code - 1:
            runs[-1].append(code)
        else:
            runs.append([code])
    return "".join(
        f"\\u{run[0]:04x}" + (f"-\\u{run[-1]:04x}" if len(run) > 1 else "") for run in runs
    )


# What `str.strip()` removes that is not a control character (those are refused anyway):
# the Unicode space separators and the line and paragraph separators.
VISIBLE_SPACES = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


@dataclass(frozen=True, slots=True)
class Controls:
    """Which control characters a text field accepts: none but those in `allowed`.

    Used as `Annotated` metadata: it validates (before any stripping, so the server refuses
    exactly what the schema's pattern says) and adds the pattern to the JSON schema.
    `min_visible` states in the pattern what a stripped minimum length means: at least that
    many characters from the first that is not a space to the last, so a name of spaces alone
    is refused by the schema as it is by the server.
    """

    allowed: str = ""
    min_visible: int = 0

    @property
    def message(self) -> str:
        such = "NUL or ESC" if "\n" in self.allowed else "NUL, ESC or a line break"
        return f"must not contain control characters (such as {such}) or bidirectional overrides"

    @property
    def pattern(self) -> str:
        refused = _pattern_class(self.allowed)
        if not self.min_visible:
            return f"^[^{refused}]*$"
        spaces = VISIBLE_SPACES + "".join(f"\\u{ord(c):04x}" for c in self.allowed if c.isspace())
        visible = f"[^{refused}{spaces}]"
        if self.min_visible == 1:
            return f"^[^{refused}]*{visible}[^{refused}]*$"
        between = f"[^{refused}]{{{self.min_visible - 2},}}"
        return f"^[{spaces}]*{visible}{between}{visible}[{spaces}]*$"

    def check(self, value: Any) -> Any:
        if isinstance(value, str):
            for char in value:
                if char in self.allowed:
                    continue
                if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
                    raise PydanticCustomError("control_characters", self.message)
        elif isinstance(value, list | tuple):
            for item in value:
                self.check(item)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        _add_pattern(json_schema, self.pattern)
        return json_schema


SINGLE_LINE = Controls()
MULTI_LINE = Controls("\t\n\r")
# GS1 element strings carry FNC1 as GS (0x1D); ISO/IEC 15434 envelopes use RS and EOT.
BARCODE = Controls("\x1d\x1e\x04")


def _add_pattern(json_schema: JsonSchemaValue, pattern: str) -> None:
    rule = ("pattern", "format", "enum", "const")
    if json_schema.get("type") == "string" and not any(k in json_schema for k in rule):
        json_schema["pattern"] = pattern
    for key in ("anyOf", "oneOf", "allOf"):
        for option in json_schema.get(key, ()):
            _add_pattern(option, pattern)
    if isinstance(json_schema.get("items"), dict):
        _add_pattern(json_schema["items"], pattern)


def _controls_in(annotation: Any) -> Controls | None:
    """The `Controls` marker a field's type carries, looking inside Optional and list."""
    if get_origin(annotation) is Annotated:
        found = next((m for m in annotation.__metadata__ if isinstance(m, Controls)), None)
        return found or _controls_in(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType, list, tuple):
        for arg in get_args(annotation):
            found = _controls_in(arg)
            if found is not None:
                return found
    return None


# One-line text (names, codes, search words) and free text that may span lines.
Line = Annotated[str, SINGLE_LINE]
Text = Annotated[str, MULTI_LINE]

# The plausible window for any date a client sends: dates of birth back to 1900, schedules and
# closures up to 2100. Fields with a tighter rule (not in the future, within a year) check it too.
EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
_DATE = re.compile(r"(?:19[0-9]{2}|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any) -> Any:
    """Dates are written YYYY-MM-DD: a bare number is refused, never read as a Unix time."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        if not _DATE.fullmatch(value):
            raise _out_of_range()
        return value  # pydantic checks the calendar (2026-02-30 is still refused)
    if isinstance(value, date):
        if not EARLIEST <= value <= LATEST:
            raise _out_of_range()
        return value
    raise PydanticCustomError(
        "date_from_datetime_parsing", "Input should be a date written YYYY-MM-DD"
    )


def _out_of_range() -> PydanticCustomError:
    return PydanticCustomError(
        "date_out_of_range",
        "must be a date between {earliest} and {latest}",
        {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
    )


# Every calendar date from 1900-01-01 to 2100-12-31 and nothing else (29 February in leap years
# only: 1900 and 2100 are not, 2000 is), so the schema states the window exactly.
CALENDAR_DATE = (
    r"^(?:(?:19[0-9]{2}|20[0-9]{2}|2100)-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:0[048]|[2468][048]|[13579][26]))-02-29)$"
)


@dataclass(frozen=True, slots=True)
class _DateWindow:
    """States the window in the schema as a pattern every date in it matches, in place of
    `format: date` (a generator would draw years 1 to 9999 and throw 98 % of them away)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.pop("format", None)
        json_schema["pattern"] = CALENDAR_DATE
        json_schema.setdefault("description", "A date, YYYY-MM-DD, from 1900-01-01 to 2100-12-31")
        return json_schema


IsoDate = Annotated[date, BeforeValidator(_iso_date), _DateWindow()]


def _iso_datetime(value: Any) -> Any:
    """A moment is written in ISO 8601 with its offset (2026-12-04T08:00:00Z): a bare number
    is refused, never read as a Unix time."""
    if isinstance(value, datetime) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ].+", value)
    ):
        return value
    raise PydanticCustomError(
        "datetime_from_number",
        "Input should be a date and time written YYYY-MM-DDTHH:MM:SS with its offset",
    )


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]

# The marker comes last: it checks the raw text, then the constraints (strip, lengths) apply
# with their usual rule names (`string_too_long`).
# A required text says so in its pattern too: spaces alone are not a name (`min_visible`).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Controls(min_visible=1),
]
Text200 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Controls(min_visible=1),
]
Text500 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Controls("\t\n\r", min_visible=1),
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MULTI_LINE]
# Why a record changed, kept in its history row (500 characters there: PostgreSQL enforces it).
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=500),
    Controls("\t\n\r", min_visible=3),
]
Postcode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$"
    ),
]


def _text_patterns(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The schema side of `In._no_control_characters`: every text property without a rule of
    its own gets the free-text pattern."""
    for name, prop in schema.get("properties", {}).items():
        field = model.model_fields.get(name)
        if field is not None and _controls_in(_annotation(field)) is None:
            _add_pattern(prop, MULTI_LINE.pattern)


def _annotation(field: Any) -> Any:
    if field.metadata:
        return Annotated[(field.annotation, *field.metadata)]
    return field.annotation


class In(BaseModel):
    """Input bodies: unknown fields are an error, not silently dropped; no text field carries
    a control character (free text may hold line breaks); a yes/no field takes only true or
    false (pydantic would read 0, 1, "yes" or "off": an attestation must be said outright)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_text_patterns)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _controls_in(_annotation(field)) is None:
            MULTI_LINE.check(value)
        if (
            field is not None
            and field.annotation in (bool, bool | None)
            and value is not None
            and not isinstance(value, bool)
        ):
            raise PydanticCustomError("bool_parsing", "must be true or false")
        return value


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Paged(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = None
