"""Prescription intake and schedule generation: facts in, a decision listing every reason out.

The check is here (`check_intake` and the warnings); its vocabulary is in `intake_terms.py`,
the blocks in `intake_blocks.py` and schedule generation in `schedule.py`.

Pure by design (DESIGN §3, STYLE B3): no database, no clock, no I/O, standard library only.
The service passes `today`, the pharmacy's opening calendar and the local thresholds; it turns
a refusal into a 422 itself, so the prescriber and the pharmacist see every reason at once.

Blocks are the law (MDR 2001 reg 15 and 16), the NHS instalment-form contract (14 days, the
eligible products), the prescriber's instalment direction (closed days) and input that cannot
be right (a start after the end, a dose of 0 mg). Warnings are clinical guidance (domain-rules
§8): the pharmacist may go ahead once each is acknowledged.

How the direction becomes a schedule: `collection_days` are the weekdays on which the
prescriber directs an instalment to be collected (the FP10MDA grid). An instalment covers its
collection day and every following day up to the next collection day, so "collect Monday and
Thursday" hands out Mon-Wed on Monday and Thu-Sun on Thursday, and "collect Monday to Saturday"
means Saturday's instalment includes Sunday: the direction itself covers a routine Sunday
closure and no closed-day wording is needed (domain-rules §6, England default). Daily
instalments including Sunday are `collection_days` = all seven days; then a Sunday closure
needs the Home Office wording to move Sunday's instalment earlier.

Choices made where the rules are silent (each is pinned by a test):

- An instalment due on a closed day moves, with the `closed_day_prior` wording, to the latest
  open day before it ("a prior suitable day"): the latest keeps the fewest doses at home. It
  may fall before the start date only when every day from the start to the due day is closed
  and the prescription was written on or before that day (domain-rules §6, Numark 2023). It
  never moves later. A dose it carries is take-home even if its weekday is supervised.
- Doses dated before the first collection day (a start date that is not a collection day)
  would have to be collected before the start date: `dose_before_first_collection`, naming them.
- Doses that cannot be scheduled are left out of the schedule and named in the finding's
  `dates`; every other dose is scheduled, so the service can show what would happen.
- `check_intake` returns the schedule whenever its inputs are valid (dates, dose, collection
  and supervised days), even if other blocks refuse the prescription.
- The "supervise consumption on collection days" wording makes every collection day a
  supervised day, on top of `supervised_days`.
- The 28 days: supply is lawful up to and including the appropriate date + 28 days ("not later
  than 28 days after", MDR reg 16). The appropriate date is the later of the written and start
  dates. Only the first instalment is held to it; later instalments follow the direction.
- The total quantity must equal the daily quantity times the days from start to end inclusive,
  exactly (Decimal). A tablet dose must be a whole number of tablets: a pharmacy cannot hand
  over 1.5 sublingual tablets, and the register records whole units.
- Instalment eligibility: an FP10MDA uses the product's England flag; a WP10MDA allows
  Schedules 2-5 (domain-rules §1.3); "private" forms use the England flag too, as the cautious
  reading until a source says otherwise.
- A standard NHS form ("paper", the FP10) cannot order instalments at all: the GMS contract
  (Sch 6 para 39(4)) requires the instalment form, and there is no provision to dispense CDs
  in instalments on an FP10 (NHSBSA). A direction with more than one instalment on it is
  refused as `instalments_need_mda_form`. A private CD form (FP10PCD) may carry an instalment
  direction: MDR reg 15 and 16 do not restrict the form, the MDA limit is NHS-contractual.
- Dose warnings (`high_dose`, `large_increase`, `first_dose_high`) use methadone thresholds, so
  they apply only to the drugs named in `IntakePolicy.dose_checked_drugs`.
- `benzodiazepine_coprescribed` is raised for an opioid with a benzodiazepine on record, and for
  a benzodiazepine with an opioid on record (MHRA: the pair is the risk, whichever is new); the
  context flag says the other half of the pair is present.
- Input sanity (blocks, thresholds in `IntakePolicy`): a dose must be above 0 and at most
  `max_dose_mg`; the date signed may not be after today or be more than `max_years_back` ago,
  nor after the start date; the start may not be more than `max_days_ahead` ahead or
  `max_years_back` ago; no form covers more than `max_days_covered` days; supervised days must
  be collection days (a dose is only supervised when it is collected), all weekdays 0-6.
- The quantity in words must be readable as number words (`words.words_to_number`); figures
  typed into the words field are not words, so they are `quantity_words_unreadable`.
"""

from __future__ import annotations

from decimal import Decimal

from app.prescriptions.dose_plan import plan_problems, step_warnings
from app.prescriptions.intake_blocks import (
    _dose_in_range,
    date_range_problems,
    missing_fields,
    product_and_form_problems,
    quantity_problems,
    schedule_input_problems,
    validity_problems,
)
from app.prescriptions.intake_terms import (
    CODE_ORDER,
    SOURCE_BENZODIAZEPINES,
    SOURCE_PREGNANCY,
    SOURCE_PRODUCT_CHANGE,
    SOURCE_QT,
    SOURCE_STRENGTH,
    SOURCE_TITRATION,
    Calendar,
    Code,
    Finding,
    IntakeContext,
    IntakeDecision,
    IntakePolicy,
    PrescriptionDraft,
    ScheduledDose,
    number_text,
)
from app.prescriptions.products import PRODUCTS, Product
from app.prescriptions.schedule import SCHEDULE_FIELDS, build_schedule


def check_intake(
    draft: PrescriptionDraft, ctx: IntakeContext, calendar: Calendar, policy: IntakePolicy
) -> IntakeDecision:
    """Check a transcribed prescription and list every failing rule, then build its schedule."""
    product = PRODUCTS.get(draft.product_code)
    missing = missing_fields(draft)
    bad_inputs = schedule_input_problems(draft, max_dose_mg=policy.max_dose_mg)
    bad_inputs += date_range_problems(draft, ctx.today, policy)
    blocks = missing + bad_inputs
    blocks += product_and_form_problems(draft, product, policy)
    blocks += validity_problems(draft, ctx.today, policy)
    blocks += quantity_problems(draft, product, policy)
    blocks += plan_problems(draft, product, policy.max_dose_mg)
    schedule: tuple[ScheduledDose, ...] = ()
    # A bad written date alone does not stop the schedule: only the fields it is built from do.
    if not any(finding.field in SCHEDULE_FIELDS for finding in missing + bad_inputs):
        schedule, problems = build_schedule(draft, calendar)
        blocks += problems
    blocks.sort(
        key=lambda finding: CODE_ORDER[finding.code]
    )  # stable: field order kept within a code
    warnings = _warnings(draft, ctx, policy, product)
    if product is not None:
        checked = product.drug in policy.dose_checked_drugs
        warnings += step_warnings(
            draft, large_increase_mg=policy.large_increase_mg, checked=checked
        )
    return IntakeDecision(tuple(blocks), tuple(warnings), schedule)


# --- warnings -------------------------------------------------------------------------------


def _warnings(
    draft: PrescriptionDraft, ctx: IntakeContext, policy: IntakePolicy, product: Product | None
) -> list[Finding]:
    if product is None:
        return []
    findings: list[Finding] = []
    dose, previous = draft.daily_dose_mg, ctx.previous_daily_dose_mg
    dose_ok = dose is not None and _dose_in_range(dose, policy.max_dose_mg)
    if dose is not None and dose_ok and product.drug in policy.dose_checked_drugs:
        if dose > policy.high_dose_mg:
            findings.append(
                Finding(
                    Code.HIGH_DOSE,
                    f"{number_text(dose)} mg a day is above {number_text(policy.high_dose_mg)} mg, where "
                    "the QT interval should be monitored. Check that the prescriber is aware of "
                    "QT monitoring before the first supply.",
                    "daily_dose_mg",
                    SOURCE_QT,
                )
            )
        if previous is not None and dose - previous > policy.large_increase_mg:
            findings.append(
                Finding(
                    Code.LARGE_INCREASE,
                    f"The dose rises from {number_text(previous)} mg to {number_text(dose)} mg a day, an "
                    f"increase of more than {number_text(policy.large_increase_mg)} mg. Confirm the "
                    "increase with the prescriber and watch for signs of overdose.",
                    "daily_dose_mg",
                    SOURCE_TITRATION,
                )
            )
        if previous is None and dose > policy.first_dose_mg:
            findings.append(
                Finding(
                    Code.FIRST_DOSE_HIGH,
                    f"This patient has no previous prescription, and {number_text(dose)} mg a day is "
                    f"above the usual starting dose of {number_text(policy.first_dose_mg)} mg. "
                    "Confirm with the prescriber that the patient is tolerant (for example, a "
                    "transfer from another service) before the first supply.",
                    "daily_dose_mg",
                    SOURCE_TITRATION,
                )
            )
    if ctx.benzodiazepine_coprescribed and (product.opioid or product.benzodiazepine):
        findings.append(
            Finding(
                Code.BENZODIAZEPINE_COPRESCRIBED,
                "An opioid and a benzodiazepine are both prescribed for this patient: together "
                "they can cause fatal breathing problems. Check that the prescriber is aware, "
                "counsel the patient on the signs, and watch closely for at least 2 weeks after "
                "starting or any dose change.",
                "product_code",
                SOURCE_BENZODIAZEPINES,
            )
        )
    if product.confusable_strength:
        findings.append(_concentrate(product, dose if dose_ok else None))
    changed = _product_change(PRODUCTS.get(ctx.previous_product_code or ""), product)
    if changed is not None:
        findings.append(changed)
    if not ctx.last_dose_known:
        findings.append(
            Finding(
                Code.LAST_DOSE_UNKNOWN,
                "No dose of this medicine is on record for the patient here, and nobody has "
                "recorded when they last took one elsewhere. Ask the prescriber or previous "
                "pharmacy (or the patient) and record the last dose taken, or that the patient "
                "is new to treatment: the counter will not supply until it is recorded.",
                "last_dose",
                "Loss of tolerance (DESIGN §3)",
            )
        )
    if ctx.pregnant and previous is not None and dose is not None and dose_ok and dose != previous:
        findings.append(
            Finding(
                Code.DOSE_CHANGE_IN_PREGNANCY,
                f"The patient is pregnant and the dose changes from {number_text(previous)} mg to "
                f"{number_text(dose)} mg a day. Confirm the change with the prescriber and make sure "
                "the maternity team knows.",
                "daily_dose_mg",
                SOURCE_PREGNANCY,
            )
        )
    return findings


def _concentrate(product: Product, dose: Decimal | None) -> Finding:
    """A methadone concentrate: name the strength and what a mg/mL slip would do (H-31)."""
    strength = number_text(product.strength)
    example = (
        f" {number_text(dose)} mg is {number_text(product.quantity(dose))} mL of it, but "
        f"{number_text(dose)} mL of the standard solution."
        if dose is not None
        else ""
    )
    return Finding(
        Code.NON_STANDARD_STRENGTH,
        f"{product.name} holds {strength} mg in each mL, {strength} times the standard "
        f"1 mg/mL solution: a mix-up between mg and mL would multiply the dose by "
        f"{strength}.{example} Concentrates are rarely used for instalment dispensing: "
        "confirm with the prescriber that this strength is intended, check it on the "
        "prescription and on the bottle, and label each dose in mg and mL.",
        "product_code",
        SOURCE_STRENGTH,
    )


def _product_change(previous: Product | None, product: Product) -> Finding | None:
    """The same drug as a different liquid from the last prescription: sugar-free and standard,
    or standard and concentrate, are easily confused (H-31)."""
    if previous is None or previous.code == product.code or previous.drug != product.drug:
        return None
    if previous.unit != "mL" or product.unit != "mL":
        return None  # a change of tablet strength is how a tablet dose is made up
    if previous.strength != product.strength:
        what = (
            f"The strength changes from {number_text(previous.strength)} mg/mL to "
            f"{number_text(product.strength)} mg/mL: the same dose in mg is a different volume."
        )
    else:
        what = "Sugar-free and standard solutions are easily confused."
    return Finding(
        Code.PRODUCT_CHANGED,
        f"The last prescription was for {previous.name}; this one is for {product.name}. "
        f"{what} Check that the prescription names this product, confirm the change with the "
        "prescriber if it is not clearly intended, and measure from a bottle of the new one.",
        "product_code",
        SOURCE_PRODUCT_CHANGE,
    )
