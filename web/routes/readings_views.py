"""What the readings page says: every message of the form, and each meter's row in words.

Each text is one whole sentence with named placeholders (STYLE 10), marked with N_ and
translated when a page is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.reading_submission import MeterOutcome, MeterReadings
from domain.readings import window
from tenants.schema import TenantConfig
from web.i18n import N_, Nn_, Translator
from web.services import service_name

# Every message of the readings form, each one whole sentence (STYLE 10).
MESSAGES: dict[str, str] = {
    "not_a_number": N_("Enter the reading as a number, for example %(sample)s."),
    "negative": N_("A meter reading cannot be negative."),
    "whole_number": N_("This meter's reading is a whole number, without decimals."),
    "too_large": N_("This number is too large for a meter reading."),
    "window_closed": N_("Readings are not taken now. The next window opens on %(date)s."),
    "no_factory_number": N_(
        "Readings for a meter without a factory number are not accepted: "
        "bring the meter's papers to the customer department."
    ),
    "meter_removed": N_(
        "This meter is not working or has been removed: its readings are not accepted."
    ),
    "verification_overdue": N_(
        "This meter's verification date has passed, so its readings are not accepted. "
        "Please have the meter checked."
    ),
    "verification_warning": N_(
        "This meter's verification date has passed. Please have the meter checked soon."
    ),
    "lower_than_previous": N_("The reading cannot be lower than the previous one, %(previous)s."),
    "replacement_or_rollover": N_(
        "The reading is lower than the previous one, %(previous)s. "
        "Was the meter replaced, or did its register roll over?"
    ),
    "unusual_consumption": N_(
        "This reading means a consumption of %(consumption)s, far more than the usual "
        "%(usual)s a month. Is it right?"
    ),
    "heat_meter": N_(
        "Heat meter readings are not taken here: "
        "provide a printout of the daily heat supply parameters instead."
    ),
    "already_accepted": N_(
        "This month's reading has already been accepted by the utility and cannot be changed here."
    ),
    "foreign_meter": N_(
        "The form names a meter that is not on this account. Nothing has been recorded: "
        "please reload the page and try again."
    ),
    "nothing_entered": N_("Enter at least one reading."),
    "refused": N_(
        "Some readings could not be accepted, so nothing has been recorded. "
        "Please correct the values marked below."
    ),
    "confirm": N_(
        "Nothing has been recorded yet. Please confirm the values marked below, "
        "then send the readings again."
    ),
    "will_ask": N_("You will be asked to confirm this value when you send the readings."),
    "success": N_("Your readings have been received and are being processed."),
}
# Needs a plural form: ngettext with these two.
TOO_MANY_DECIMALS = Nn_(
    "This meter's reading has at most %(count)d decimal place.",
    "This meter's reading has at most %(count)d decimal places.",
)
PARTIAL = Nn_(
    "You entered readings for %(filled)d of %(total)d meter. Send only these?",
    "You entered readings for %(filled)d of %(total)d meters. Send only these?",
)
CONFIRM_LABELS = {
    "replacement_or_rollover": N_("The meter was replaced or its register rolled over"),
    "unusual_consumption": N_("Yes, the consumption is right"),
}
STATES = {"installed": N_("Installed"), "removed": N_("Removed")}
SOURCES = {
    "customer": N_("Site"),
    "billing": N_("Billing"),
    "staff": N_("Staff"),
    "anonymous": N_("Without registration"),
}
STATUSES = {
    "processing": N_("Being processed"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
}
REJECTED_BECAUSE = N_("Rejected: %(reason)s")


@dataclass
class Message:
    text: str
    kind: str = "error"  # error | warning | confirm | info
    link: tuple[str, str] | None = None  # (href, text)


@dataclass
class RowView:
    """One meter's row as the template draws it."""

    id: int
    service: str
    factory_number: str
    verification_due: str
    state: str
    previous_value: str
    previous_date: str
    previous_source: str
    current_value: str
    status: str
    label: str
    takes_input: bool
    input_value: str = ""
    messages: list[Message] = field(default_factory=list)
    # (code, label, checked) for each confirmation the value waits for.
    confirmations: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return any(m.kind == "error" for m in self.messages)


# --- words ------------------------------------------------------------------------


def number(translate: Translator, value: Decimal, decimals: int) -> str:
    return translate.number(value, decimals)


def check_link(
    config: TenantConfig, translate: Translator, account_id: int, meter_id: int
) -> tuple[str, str]:
    if config.has("visit_requests"):
        href = f"/visits/new?kind=meter_check&account={account_id}&meter={meter_id}"
        return href, translate.gettext(N_("Request a meter check visit"))
    return "/contact", translate.gettext(N_("Contact us to have the meter checked"))


def warn_overdue(config: TenantConfig, row: MeterReadings, today: date) -> bool:
    return config.readings.past_verification == "warn" and row.verification_overdue(today)


def verification_warning(
    config: TenantConfig, translate: Translator, account_id: int, meter_id: int
) -> Message:
    return Message(
        translate.pick(MESSAGES, "verification_warning"),
        kind="warning",
        link=check_link(config, translate, account_id, meter_id),
    )


def problem_message(
    config: TenantConfig,
    translate: Translator,
    row: MeterReadings,
    code: str,
    today: date,
    account_id: int,
) -> Message:
    """The words for a refusal of one value or of one meter."""
    say = translate.gettext
    decimals = row.decimals
    if code == "too_many_decimals":
        if decimals == 0:
            return Message(say(MESSAGES["whole_number"]))
        text = translate.ngettext(*TOO_MANY_DECIMALS, decimals) % {"count": decimals}
        return Message(text)
    if code == "not_a_number":
        sample = number(translate, Decimal("145.5547"), decimals)
        return Message(say(MESSAGES["not_a_number"]) % {"sample": sample})
    if code == "lower_than_previous":
        previous = row.previous.value if row.previous else Decimal(0)
        return Message(
            say(MESSAGES["lower_than_previous"])
            % {"previous": number(translate, previous, decimals)}
        )
    if code == "window_closed":
        opens = window(config.readings, today).next_opens or today
        return Message(say(MESSAGES["window_closed"]) % {"date": translate.date(opens, "long")})
    if code == "verification_overdue":
        return Message(
            say(MESSAGES["verification_overdue"]),
            link=check_link(config, translate, account_id, row.id),
        )
    kind = "warning" if code in ("heat_meter", "already_accepted") else "error"
    return Message(say(MESSAGES[code]), kind=kind)


def outcome_messages(
    config: TenantConfig,
    translate: Translator,
    row: MeterReadings,
    outcome: MeterOutcome,
    today: date,
    account_id: int,
) -> list[Message]:
    if outcome.refusal is not None:
        return [problem_message(config, translate, row, outcome.refusal, today, account_id)]
    verdict = outcome.verdict
    assert verdict is not None and verdict.value is not None
    messages = []
    if "verification_overdue" in verdict.warnings:
        messages.append(verification_warning(config, translate, account_id, row.id))
    previous = row.previous.value if row.previous else Decimal(0)
    for need in verdict.needs:
        if need == "replacement_or_rollover":
            text = translate.gettext(MESSAGES[need]) % {
                "previous": number(translate, previous, row.decimals)
            }
        else:
            text = translate.gettext(MESSAGES[need]) % {
                "consumption": number(translate, verdict.value - previous, row.decimals),
                "usual": number(translate, row.average or Decimal(0), row.decimals),
            }
        messages.append(Message(text, kind="confirm"))
    return messages


def meter_label(translate: Translator, service: str, factory_number: str | None) -> str:
    if factory_number:
        return translate.gettext(N_("Current reading, %(service)s, meter %(number)s")) % {
            "service": service,
            "number": factory_number,
        }
    return translate.gettext(N_("Current reading, %(service)s, meter without a number")) % {
        "service": service
    }


def reading_status(translate: Translator, row: MeterReadings) -> str:
    current = row.current
    if current is None:
        return ""
    if current.status == "rejected" and current.rejection_reason:
        return translate.gettext(REJECTED_BECAUSE) % {"reason": current.rejection_reason}
    return translate.gettext(STATUSES.get(current.status, current.status))


def row_view(
    config: TenantConfig,
    translate: Translator,
    row: MeterReadings,
    today: date,
    account_id: int,
    *,
    open_window: bool,
    typed: dict[int, str],
    outcome: MeterOutcome | None,
    ticked: dict[int, list[str]],
) -> RowView:
    say = translate.gettext
    meter, previous, current = row.meter, row.previous, row.current
    service = service_name(translate, meter.service)
    problem = row.problem(config.readings, today)
    view = RowView(
        id=row.id,
        service=service,
        factory_number=meter.factory_number or say(N_("None")),
        verification_due=translate.date(meter.verification_due) if meter.verification_due else "",
        state=say(STATES.get(meter.state, meter.state)),
        previous_value=number(translate, previous.value, row.decimals) if previous else "",
        previous_date=translate.date(previous.taken_on) if previous else "",
        previous_source=say(SOURCES.get(previous.source, previous.source)) if previous else "",
        current_value=number(translate, current.value, row.decimals) if current else "",
        status=reading_status(translate, row),
        label=meter_label(translate, service, meter.factory_number),
        takes_input=open_window and problem is None,
    )
    if view.takes_input:
        kept = typed.get(row.id)
        if kept is not None:
            view.input_value = kept
        elif current is not None:
            view.input_value = translate.input_number(current.value, row.decimals)
    elif problem is not None and problem != "already_accepted":
        # Why the row has no input: information about the meter, not a mistake of the customer.
        reason = problem_message(config, translate, row, problem, today, account_id)
        reason.kind = "info"
        view.messages.append(reason)
    if outcome is not None:
        view.messages.extend(outcome_messages(config, translate, row, outcome, today, account_id))
        view.confirmations = [
            (code, say(CONFIRM_LABELS[code]), code in ticked.get(row.id, []))
            for code in outcome.missing
        ]
    elif view.takes_input and warn_overdue(config, row, today):
        view.messages.append(verification_warning(config, translate, account_id, row.id))
    return view
