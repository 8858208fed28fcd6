"""The BankAccount aggregate: its state is nothing but the fold of its events.

Commands (`open`, `deposit`, `withdraw`) check the rules (positive amounts, no overdraft) against
the current state and record new events; `apply` is the only place state changes. Money is in
integer cents. The repository loads an account from its history (or from a snapshot plus the
events after it) and saves new events with optimistic concurrency. Not for storage details (see
`store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from .errors import DomainError
from .events import Codec, Event
from .store import EventStore, RecordedEvent

# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountOpened(Event):
    owner: str


@dataclass(frozen=True)
class MoneyDeposited(Event):
    version: ClassVar[int] = 2  # v1 had `amount` in euros and no currency
    amount_cents: int
    currency: str = "EUR"


@dataclass(frozen=True)
class MoneyWithdrawn(Event):
    amount_cents: int


def upcast_deposit_v1(data: dict[str, Any]) -> dict[str, Any]:
    """MoneyDeposited v1 → v2: euros (a JSON number) to integer cents, the implied currency."""
    euros = Decimal(str(data.pop("amount")))  # via str: 12.1 must give 1210, not 1209
    return {"amount_cents": int(euros * 100), "currency": "EUR", **data}


BANK_EVENTS = Codec(
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    upcasters={("MoneyDeposited", 1): upcast_deposit_v1},
)


# --- the aggregate -------------------------------------------------------------------------------


@dataclass
class BankAccount:
    account_id: str
    owner: str = ""
    balance_cents: int = 0
    is_open: bool = False
    version: int = 0  # the last event applied: the expected version for the next append
    pending: list[Event] = field(default_factory=list)

    # --- commands: decide ---------------------------------------------------------------------

    def open(self, owner: str) -> None:
        if self.is_open:
            raise DomainError(f"{self.account_id} is already open")
        self._record(AccountOpened(owner))

    def deposit(self, amount_cents: int) -> None:
        self._require_open()
        if amount_cents <= 0:
            raise DomainError(f"a deposit must be positive, not {amount_cents}")
        self._record(MoneyDeposited(amount_cents, "EUR"))

    def withdraw(self, amount_cents: int) -> None:
        self._require_open()
        if amount_cents <= 0:
            raise DomainError(f"a withdrawal must be positive, not {amount_cents}")
        if amount_cents > self.balance_cents:
            raise DomainError(
                f"insufficient funds: balance {self.balance_cents}, withdrawal {amount_cents}"
            )
        self._record(MoneyWithdrawn(amount_cents))

    def _require_open(self) -> None:
        if not self.is_open:
            raise DomainError(f"{self.account_id} is not open")

    def _record(self, event: Event) -> None:
        self.apply(event)
        self.pending.append(event)

    # --- events: evolve -----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        match event:
            case AccountOpened(owner=owner):
                self.owner, self.is_open = owner, True
            case MoneyDeposited(amount_cents=cents):
                self.balance_cents += cents
            case MoneyWithdrawn(amount_cents=cents):
                self.balance_cents -= cents
            case _:
                raise ValueError(f"a BankAccount cannot apply {event!r}")

    def snapshot(self) -> dict[str, Any]:
        return {"owner": self.owner, "balance_cents": self.balance_cents, "is_open": self.is_open}


class AccountRepository:
    """Loads and saves accounts; takes a snapshot every `snapshot_every` events (0 = never)."""

    def __init__(self, store: EventStore, snapshot_every: int = 0) -> None:
        self.store, self.snapshot_every = store, snapshot_every
        self.replayed = 0  # events the last `load` had to replay: its cost, counted

    def load(self, account_id: str, use_snapshot: bool = True) -> BankAccount:
        account = BankAccount(account_id)
        snapshot = self.store.latest_snapshot(account_id) if use_snapshot else None
        if snapshot:
            account.version, state = snapshot
            account.owner, account.balance_cents = state["owner"], state["balance_cents"]
            account.is_open = state["is_open"]
        events = self.store.read_stream(account_id, after_version=account.version)
        for recorded in events:
            if recorded.event is None:  # the store keeps the stored form only
                raise TypeError("this store was opened without a codec: it cannot load accounts")
            account.apply(recorded.event)
            account.version = recorded.version
        self.replayed = len(events)
        return account

    def save(self, account: BankAccount, outbox_topic: str | None = None) -> list[RecordedEvent]:
        """Append the account's new events; ConcurrencyError if someone else appended first."""
        recorded = self.store.append(
            account.account_id, list(account.pending), account.version, outbox_topic=outbox_topic
        )
        account.pending = []
        if recorded:
            account.version = recorded[-1].version
            crossed = self.snapshot_every and (
                account.version // self.snapshot_every
                > (account.version - len(recorded)) // self.snapshot_every
            )
            if crossed:
                self.store.save_snapshot(account.account_id, account.version, account.snapshot())
        return recorded
