"""The intake blocks: what makes a transcribed prescription unlawful or impossible to
dispense (a missing reg 15 element, dates that cannot be right, an ineligible product or form,
the 28-day window, a total that does not add up). Pure; `rules.check_intake` runs them all.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.prescriptions.dose_plan import describe, expected_quantity
from app.prescriptions.intake_terms import (
    _MDA_14_DAYS,
    _REG15,
    _REG16_1A,
    _REG16_28_DAYS,
    FORM_TYPES,
    INSTALMENT_FORMS,
    SOURCE_DIRECTION,
    SOURCE_MDA_PRODUCTS,
    SOURCE_TRANSCRIPTION,
    Code,
    Finding,
    IntakePolicy,
    PrescriptionDraft,
    amount_text,
    dates_between,
    day_text,
    number_text,
    quantity_for,
    weekday_names,
    years_before,
)
from app.prescriptions.products import Product
from app.prescriptions.words import words_to_number

# --- blocks ---------------------------------------------------------------------------------

# Reg 15 elements in the order they appear on the form: field -> what a pharmacist calls it.
_REQUIRED: tuple[tuple[str, str], ...] = (
    ("product_code", "medicine, form and strength"),
    ("form_type", "prescription form type"),
    ("written_on", "date the prescription was signed"),
    ("daily_dose_mg", "daily dose"),
    ("total_quantity", "total quantity in figures"),
    ("total_quantity_words", "total quantity in words"),
    ("collection_days", "instalment amount and interval (collection days)"),
    ("start_on", "start date"),
    ("end_on", "end date"),
    ("direction_text", "instalment direction"),
    ("prescriber_address", "prescriber's address"),
)


def missing_fields(draft: PrescriptionDraft) -> list[Finding]:
    """One finding per reg 15 element that is not on the prescription."""
    absent = {name for name, _ in _REQUIRED if _is_blank(getattr(draft, name))}
    findings: list[Finding] = []
    for name, what in _REQUIRED:
        if name not in absent:
            continue
        if (
            name in {"total_quantity", "total_quantity_words"}
            and len(absent & {"total_quantity", "total_quantity_words"}) == 1
        ):
            # Words or figures but not both: the one defect a pharmacist may correct.
            other = "words" if name == "total_quantity" else "figures"
            message = (
                f"The {what} is missing, though it is given in {other}. If you are satisfied that "
                "the prescription is genuine and you know what the prescriber intended, you may "
                "add it yourself, indelibly, marking the amendment as yours; otherwise ask the "
                "prescriber."
            )
            findings.append(Finding(Code.MISSING_FIELD, message, name, _REG16_1A))
            continue
        message = (
            f"The {what} is missing. A Schedule 2 prescription is not valid without it: ask the "
            "prescriber for a corrected prescription."
        )
        if name == "daily_dose_mg":
            message += ' ("As directed" is not a dose.)'
        findings.append(Finding(Code.MISSING_FIELD, message, name, _REG15))
    return findings


def _is_blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, frozenset):
        return not value
    return value is None


def schedule_input_problems(
    draft: PrescriptionDraft, *, max_dose_mg: Decimal | int | None
) -> list[Finding]:
    """Input the schedule cannot be built from: order of dates, dose, weekday sets."""
    findings: list[Finding] = []
    if draft.start_on is not None and draft.end_on is not None and draft.start_on > draft.end_on:
        findings.append(
            Finding(
                Code.START_AFTER_END,
                f"The start date ({day_text(draft.start_on)}) is after the end date "
                f"({day_text(draft.end_on)}). Check both dates against the prescription.",
                "end_on",
                SOURCE_TRANSCRIPTION,
            )
        )
    dose = draft.daily_dose_mg
    if dose is not None and not _dose_in_range(dose, max_dose_mg):
        limit = "" if max_dose_mg is None else f" and no more than {number_text(max_dose_mg)} mg"
        findings.append(
            Finding(
                Code.DOSE_OUT_OF_RANGE,
                f"The daily dose ({dose} mg) must be more than 0 mg{limit}. Check it against the "
                "prescription: a dose this far out is almost always a typing error.",
                "daily_dose_mg",
                SOURCE_TRANSCRIPTION,
            )
        )
    if not draft.collection_days <= _ALL_WEEKDAYS:
        findings.append(
            Finding(
                Code.COLLECTION_DAYS_INVALID,
                "The collection days must be weekdays numbered 0 (Monday) to 6 (Sunday). "
                "Re-enter them from the prescription.",
                "collection_days",
                SOURCE_TRANSCRIPTION,
            )
        )
    if not draft.supervised_days <= _ALL_WEEKDAYS:
        findings.append(
            Finding(
                Code.SUPERVISED_DAYS_INVALID,
                "The supervised days must be weekdays numbered 0 (Monday) to 6 (Sunday). "
                "Re-enter them from the prescription.",
                "supervised_days",
                SOURCE_TRANSCRIPTION,
            )
        )
    elif not draft.supervised_days <= draft.collection_days:
        extra = weekday_names(draft.supervised_days - draft.collection_days)
        findings.append(
            Finding(
                Code.SUPERVISED_DAYS_INVALID,
                f"Consumption is to be supervised on {extra}, but no instalment is collected "
                "then: a dose can only be supervised when the patient collects it. Check the "
                "direction, and ask the prescriber if it really says this.",
                "supervised_days",
                SOURCE_DIRECTION,
            )
        )
    return findings


_ALL_WEEKDAYS = frozenset(range(7))


def _dose_in_range(dose: Decimal, max_dose_mg: Decimal | int | None) -> bool:
    return dose.is_finite() and dose > 0 and (max_dose_mg is None or dose <= max_dose_mg)


def date_range_problems(
    draft: PrescriptionDraft, today: date, policy: IntakePolicy
) -> list[Finding]:
    """Dates that cannot be meant: the wrong year, a signature in the future, a vast span."""
    earliest = years_before(today, policy.max_years_back)
    years = "a year" if policy.max_years_back == 1 else f"{policy.max_years_back} years"
    findings: list[Finding] = []

    def out_of_range(name: str, value: date, why: str) -> None:
        what = {"written_on": "date signed", "start_on": "start date", "end_on": "end date"}[name]
        findings.append(
            Finding(
                Code.DATE_OUT_OF_RANGE,
                f"The {what} ({day_text(value)}) {why}, which is almost certainly a typing error. "
                "Check the date against the prescription; if it really says this, ask the "
                "prescriber.",
                name,
                SOURCE_TRANSCRIPTION,
            )
        )

    written, start, end = draft.written_on, draft.start_on, draft.end_on
    if written is not None:
        if written > today:
            out_of_range("written_on", written, "is after today")
        elif written < earliest:
            out_of_range("written_on", written, f"is more than {years} ago")
        if start is not None and written > start:
            findings.append(
                Finding(
                    Code.WRITTEN_AFTER_START,
                    f"The prescription was signed on {day_text(written)}, after its start date "
                    f"({day_text(start)}). Check both dates; if they are right, ask the prescriber "
                    "for a corrected prescription.",
                    "written_on",
                    SOURCE_TRANSCRIPTION,
                )
            )
    if start is not None:
        if start < earliest:
            out_of_range("start_on", start, f"is more than {years} ago")
        elif (start - today).days > policy.max_days_ahead:
            out_of_range("start_on", start, f"is more than {policy.max_days_ahead} days ahead")
    if end is not None:
        if end < earliest:
            out_of_range("end_on", end, f"is more than {years} ago")
        elif start is not None and (end - start).days + 1 > policy.max_days_covered:
            out_of_range(
                "end_on",
                end,
                f"makes the prescription cover more than {policy.max_days_covered} days",
            )
    return findings


def product_and_form_problems(
    draft: PrescriptionDraft, product: Product | None, policy: IntakePolicy
) -> list[Finding]:
    findings: list[Finding] = []
    if product is None and draft.product_code.strip():
        findings.append(
            Finding(
                Code.UNKNOWN_PRODUCT,
                f'"{draft.product_code}" is not a product Dosekeeper knows. Choose the medicine, '
                "form and strength from the list exactly as prescribed.",
                "product_code",
                SOURCE_TRANSCRIPTION,
            )
        )
    form = draft.form_type
    if form is not None and form.strip() and form not in FORM_TYPES:
        findings.append(
            Finding(
                Code.UNKNOWN_FORM_TYPE,
                f'"{form}" is not a prescription form Dosekeeper knows. Choose one of '
                f"{', '.join(sorted(FORM_TYPES))}.",
                "form_type",
                SOURCE_TRANSCRIPTION,
            )
        )
    instalments = instalment_count(draft)
    if form == "paper" and instalments is not None and instalments > 1:
        findings.append(
            Finding(
                Code.INSTALMENTS_NEED_MDA_FORM,
                f"This prescription directs {instalments} instalments but is written on a standard "
                "FP10: in England instalments may only be dispensed from an FP10MDA (WP10MDA in "
                "Wales). Return it to the prescriber for an instalment prescription form.",
                "form_type",
                _MDA_14_DAYS,
            )
        )
    if product is not None and form in FORM_TYPES and not _instalments_allowed(product, form):
        where = (
            "on a WP10MDA only Schedule 2 to 5 controlled drugs can be"
            if form == "WP10MDA"
            else "in England only Schedule 2 controlled drugs, buprenorphine and diazepam can be"
        )
        findings.append(
            Finding(
                Code.NOT_INSTALMENT_ELIGIBLE,
                f"{product.name} cannot be dispensed in instalments on this prescription: {where} "
                "dispensed in instalments. Return it to the prescriber.",
                "product_code",
                SOURCE_MDA_PRODUCTS,
            )
        )
    days = days_covered(draft)
    if form in INSTALMENT_FORMS and days is not None and days > policy.max_instalment_days:
        findings.append(
            Finding(
                Code.TOO_MANY_DAYS,
                f"{'A' if form == 'WP10MDA' else 'An'} {form} may order at most {policy.max_instalment_days} days' treatment; this "
                f"one covers {days} days. Ask the prescriber for a prescription of "
                f"{policy.max_instalment_days} days or fewer.",
                "end_on",
                _MDA_14_DAYS,
            )
        )
    return findings


def instalment_count(draft: PrescriptionDraft) -> int | None:
    """How many instalments the direction makes (collection days within the dates), counting
    a first dose day that is not a collection day as an instalment of its own."""
    if draft.start_on is None or draft.end_on is None or draft.start_on > draft.end_on:
        return None
    if not draft.collection_days <= _ALL_WEEKDAYS:
        return None
    days = list(
        dates_between(draft.start_on, min(draft.end_on, draft.start_on + timedelta(days=400)))
    )
    count = sum(1 for day in days if day.weekday() in draft.collection_days)
    if days and days[0].weekday() not in draft.collection_days:
        count += 1
    return count


def _instalments_allowed(product: Product, form: str) -> bool:
    if form == "WP10MDA":
        return 2 <= product.schedule <= 5  # Wales: Schedules 2-5 (domain-rules §1.3)
    return product.instalment_eligible


def validity_problems(draft: PrescriptionDraft, today: date, policy: IntakePolicy) -> list[Finding]:
    """The first instalment must be supplied within 28 days of the appropriate date."""
    known = [d for d in (draft.written_on, draft.start_on) if d is not None]
    if not known:
        return []
    appropriate = max(known)
    if (today - appropriate).days <= policy.validity_days:
        return []
    last_day = appropriate + timedelta(days=policy.validity_days)
    return [
        Finding(
            Code.FIRST_SUPPLY_WINDOW,
            f"The first instalment had to be supplied by {day_text(last_day)}, "
            f"{policy.validity_days} days after the prescription's appropriate date "
            f"({day_text(appropriate)}). The prescription can no longer be dispensed: ask the "
            "prescriber for a new one.",
            "start_on" if appropriate == draft.start_on else "written_on",
            _REG16_28_DAYS,
        )
    ]


def quantity_problems(
    draft: PrescriptionDraft, product: Product | None, policy: IntakePolicy
) -> list[Finding]:
    """Figures against the instalments, words against the figures, whole tablets."""
    findings: list[Finding] = []
    total = draft.total_quantity
    unit = product.unit if product is not None else ""
    dose = draft.daily_dose_mg
    dose_ok = dose is not None and _dose_in_range(dose, policy.max_dose_mg)
    days = days_covered(draft)

    if total is not None and not (total.is_finite() and total > 0):
        findings.append(
            Finding(
                Code.SCHEDULE_INCONSISTENT,
                f"The total quantity ({total}) must be more than 0. Check it against the "
                "prescription.",
                "total_quantity",
                _REG15,
            )
        )
    elif draft.steps and total is not None and product is not None and dose_ok and days:
        expected = expected_quantity(draft, product)
        if total != expected:
            findings.append(
                Finding(
                    Code.SCHEDULE_INCONSISTENT,
                    f"The total quantity is {amount_text(total, unit)}, but the stepped doses "
                    f"({describe(draft, product)}) add up to {amount_text(expected, unit)} of "
                    f"{product.name}. Ask the prescriber which is intended; do not supply until "
                    "the total and the instalments agree.",
                    "total_quantity",
                    _REG15,
                )
            )
    elif total is not None and product is not None and dose is not None and dose_ok and days:
        daily = quantity_for(product, dose)
        expected = daily * days
        if total != expected:
            findings.append(
                Finding(
                    Code.SCHEDULE_INCONSISTENT,
                    f"The total quantity is {amount_text(total, unit)}, but {number_text(dose)} mg daily "
                    f"for {days} days is {amount_text(expected, unit)} ({amount_text(daily, unit)} a day "
                    f"of {product.name}). Ask the prescriber which is intended; do not supply "
                    "until the total and the instalments agree.",
                    "total_quantity",
                    _REG15,
                )
            )

    words = draft.total_quantity_words
    if words is not None and words.strip():
        read = words_to_number(words)
        if read is None:
            findings.append(
                Finding(
                    Code.QUANTITY_WORDS_UNREADABLE,
                    f'The total quantity in words ("{words}") cannot be read as a number. '
                    'Re-enter it exactly as written, e.g. "eight hundred and forty"; if the '
                    "prescription itself is unclear, ask the prescriber.",
                    "total_quantity_words",
                    SOURCE_TRANSCRIPTION,
                )
            )
        elif total is not None and total.is_finite() and read != total:
            findings.append(
                Finding(
                    Code.SCHEDULE_INCONSISTENT,
                    f'The total quantity in words ("{words}", {number_text(read)}) does not match '
                    f"the figures ({number_text(total)}). Ask the prescriber which is intended.",
                    "total_quantity_words",
                    _REG15,
                )
            )

    if product is not None and product.unit != "mL" and dose is not None and dose_ok:
        units = quantity_for(product, dose)
        if units != units.to_integral_value():
            findings.append(
                Finding(
                    Code.DOSE_NOT_WHOLE_UNITS,
                    f"{number_text(dose)} mg a day is {amount_text(units, unit)} a day of "
                    f"{product.name}, which cannot be measured out: a dose must be a whole number "
                    f"of {unit}s. Ask the prescriber for a strength, or a combination of "
                    "strengths, that makes the dose.",
                    "daily_dose_mg",
                    SOURCE_TRANSCRIPTION,
                )
            )
    return findings


def days_covered(draft: PrescriptionDraft) -> int | None:
    if draft.start_on is None or draft.end_on is None or draft.start_on > draft.end_on:
        return None
    return (draft.end_on - draft.start_on).days + 1
