"""Demo broadband lines: one per account, each in a situation of seed 002, with six months of
sessions and the charges and payments that led to the line's state.

Its own random generator (seeded by the tenant's slug and the account's place), so the rest
of the demo, and its sign-ins, come out the same as without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.broadband import (
    SUSPENSION_GROUP,
    add_periods,
    monthly_fee,
    period_end,
    period_of,
)
from domain.models import BroadbandRequest, BroadbandService, Charge, Payment, UsageSession
from tenants.schema import BroadbandPlan, TenantConfig

MONTHS = 6
# (plan kind, payment mode, situation) by account index.
SCENARIOS = (
    ("unlimited_monthly", "prepaid_cash", "active"),
    ("limited_monthly", "postpaid_bank", "active"),
    ("half_year", "prepaid_cash", "active"),
    ("unlimited_monthly", "prepaid_cash", "balance_short"),
    ("limited_monthly", "prepaid_cash", "voluntary"),
    ("unlimited_monthly", "postpaid_bank", "unpaid"),
)


@dataclass
class DemoLine:
    service: BroadbandService
    charges: list[Charge] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    sessions: list[UsageSession] = field(default_factory=list)


class BroadbandDemo:
    def __init__(self, config: TenantConfig, tenant_id: int, today: date, vat: Decimal) -> None:
        assert config.broadband is not None
        self.config = config
        self.settings = config.broadband
        self.tenant_id = tenant_id
        self.today = today
        self.vat = vat
        self.zone = ZoneInfo(config.timezone)
        self.current = period_of(today)

    def month(self, back: int) -> date:
        return add_periods(self.current, -back)

    def _plan(self, kind: str, index: int) -> BroadbandPlan:
        plans = self.settings.plans
        return next((p for p in plans if p.kind == kind), plans[index % len(plans)])

    def _moment(self, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute, second), tzinfo=self.zone).astimezone(UTC)

    def line(self, account_id: int, index: int) -> DemoLine:
        kind, mode, situation = SCENARIOS[index % len(SCENARIOS)]
        if mode not in self.settings.payment_modes:
            mode = self.settings.payment_modes[0]
        plan = self._plan(kind, index)
        fee = monthly_fee(plan)
        status, reason, since, used_until = {
            "active": ("active", None, None, self.today),
            "balance_short": ("suspended", "balance_short", self.current, self.current),
            "voluntary": ("suspended", "voluntary", self.month(1), self.month(1)),
            # Suspended on the 1st three months back, still unpaid two months later: closed.
            "unpaid": ("closed", "unpaid", self.month(1), self.month(3)),
        }[situation]
        line = DemoLine(
            BroadbandService(
                tenant_id=self.tenant_id,
                account_id=account_id,
                plan_key=plan.key,
                payment_mode=mode,
                status=status,
                status_reason=reason,
                status_since=since,
            )
        )
        # Billed months: in advance (this month too) for cash, afterwards for bank transfer.
        last_billed = 0 if mode == "prepaid_cash" else 1
        billed: list[tuple[date, Decimal, str]] = []
        for back in range(MONTHS, last_billed - 1, -1):
            month = self.month(back)
            if situation == "voluntary" and month >= self.month(1):
                billed.append((month, self.settings.suspension_fee, SUSPENSION_GROUP))
            elif month < used_until or (situation == "active" and mode == "prepaid_cash"):
                billed.append((month, fee, plan.key))
        line.charges = [self._charge(account_id, *entry) for entry in billed]
        line.payments = self._payments(account_id, situation, mode, plan, billed)
        heavy = self.month(2) if plan.included_hours and situation == "active" else None
        line.sessions = self._sessions(account_id, index, used_until, heavy)
        return line

    def _charge(self, account_id: int, period: date, amount: Decimal, group: str) -> Charge:
        return Charge(
            tenant_id=self.tenant_id,
            account_id=account_id,
            period=period,
            service="broadband",
            recipient=self.config.name(self.config.locales.default),
            tariff_group=group,
            volume=Decimal(1),
            tariff=amount,
            vat_percent=self.vat,
            amount=amount,
        )

    def _payments(
        self,
        account_id: int,
        situation: str,
        mode: str,
        plan: BroadbandPlan,
        billed: list[tuple[date, Decimal, str]],
    ) -> list[Payment]:
        paid: list[tuple[date, Decimal]] = []
        if mode == "postpaid_bank":
            # By bank transfer on the 10th of the month after; the closed line stopped paying.
            for number, (month, amount, _) in enumerate(billed):
                if situation != "unpaid" or number == 0:
                    paid.append((add_periods(month, 1).replace(day=10), amount))
        elif plan.kind in ("half_year", "year"):
            # The whole term in advance, and again before the next term begins.
            paid.append((self.month(MONTHS + 1).replace(day=25), plan.fee))
            paid.append((self.month(1).replace(day=25), plan.fee))
        else:
            for month, amount, _ in billed:
                paid.append((add_periods(month, -1).replace(day=20), amount))
            if situation == "active":
                paid.append((self.current.replace(day=20), billed[-1][1]))  # next month's
            if situation == "balance_short":
                # Topped up too little before the 1st: a third of the fee.
                paid.append(
                    (self.month(1).replace(day=26), (billed[-1][1] / 3).quantize(Decimal("0.01")))
                )
        return [
            Payment(
                tenant_id=self.tenant_id,
                account_id=account_id,
                paid_at=self._moment(day, 10),
                amount=amount,
                provider="billing",
                reference=f"demo-bb-{account_id}-{number}",
            )
            for number, (day, amount) in enumerate(paid)
            if day < self.today
        ]

    def _sessions(
        self, account_id: int, index: int, used_until: date, heavy: date | None
    ) -> list[UsageSession]:
        """Evening sessions until the line stopped (or yesterday); on each month's last day
        one that crosses midnight into the next month, like the seed's example."""
        rng = random.Random(f"{self.config.slug}/broadband/{index}")
        end_day = min(used_until, self.today)
        day = self.month(MONTHS)
        sessions = []
        while day < end_day:
            month_end = day == period_end(day)
            if month_end and day + timedelta(days=1) < end_day:
                start = self._moment(day, 23, 10, 10)
                finish = self._moment(day + timedelta(days=1), 0, 15, 20)
                sessions.append(self._session(account_id, start, finish, rng))
            elif not month_end and rng.random() < 0.75:
                longer = heavy is not None and period_of(day) == heavy
                minutes = rng.randrange(150, 240) if longer else rng.randrange(30, 150)
                start = self._moment(day, 19, rng.randrange(60), rng.randrange(60))
                start += timedelta(minutes=rng.randrange(150))
                finish = start + timedelta(minutes=minutes, seconds=rng.randrange(60))
                # A session that would run past the line's last day is cut at midnight.
                stop = self._moment(end_day, 0)
                sessions.append(self._session(account_id, start, min(finish, stop), rng))
            day += timedelta(days=1)
        return sessions

    def _session(
        self, account_id: int, start: datetime, finish: datetime, rng: random.Random
    ) -> UsageSession:
        minutes = max(int((finish - start).total_seconds() // 60), 1)
        return UsageSession(
            tenant_id=self.tenant_id,
            account_id=account_id,
            started_at=start,
            ended_at=finish,
            megabytes=Decimal(minutes * rng.randrange(3, 12) * 1000 + rng.randrange(1000)) / 1000,
        )

    def requests(self, account_id: int, customer_id: int, index: int) -> list[BroadbandRequest]:
        """The voluntarily suspended line's request, made last-but-one month and carried out."""
        if SCENARIOS[index % len(SCENARIOS)][2] != "voluntary":
            return []
        return [
            BroadbandRequest(
                tenant_id=self.tenant_id,
                account_id=account_id,
                customer_id=customer_id,
                kind="suspend",
                effective_on=self.month(1),
                status="done",
                created_at=self._moment(self.month(2).replace(day=12), 10),
            )
        ]
