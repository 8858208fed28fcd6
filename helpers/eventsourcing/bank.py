"""The BankAccount aggregate: its state is nothing but the fold of its events.

Commands (`open`, `deposit`, `withdraw`) check the rules (positive amounts, no overdraft) against
the current state and return new events; `apply` is the only place state changes. The repository
loads an account from its history (or from a snapshot plus the events after it) and saves new
events with optimistic concurrency. Not for storage details (see `store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .store import EventStore, NewEvent, RecordedEvent


class DomainError(ValueError):
    """A command that breaks a business rule: nothing is written."""


@dataclass
class BankAccount:
    account_id: str
    owner: str = ""
    balance_cents: int = 0
    is_open: bool = False
    version: int = 0  # the last event applied: the expected version for the next append
    pending: list[NewEvent] = field(default_factory=list)

    # --- commands: decide ---------------------------------------------------------------------

    def open(self, owner: str) -> None:
        if self.is_open:
            raise DomainError(f"{self.account_id} is already open")
        self._record("AccountOpened", {"owner": owner})

    def deposit(self, amount_cents: int) -> None:
        self._require_open()
        if amount_cents <= 0:
            raise DomainError(f"a deposit must be positive, not {amount_cents}")
        self._record("MoneyDeposited", {"amount_cents": amount_cents, "currency": "EUR"}, 2)

    def withdraw(self, amount_cents: int) -> None:
        self._require_open()
        if amount_cents <= 0:
            raise DomainError(f"a withdrawal must be positive, not {amount_cents}")
        if amount_cents > self.balance_cents:
            raise DomainError(
                f"insufficient funds: balance {self.balance_cents}, withdrawal {amount_cents}"
            )
        self._record("MoneyWithdrawn", {"amount_cents": amount_cents})

    def _require_open(self) -> None:
        if not self.is_open:
            raise DomainError(f"{self.account_id} is not open")

    def _record(self, event_type: str, data: dict, schema_version: int = 1) -> None:
        event = NewEvent(event_type, data, schema_version)
        self.apply(event.type, event.data)
        self.pending.append(event)

    # --- events: evolve -----------------------------------------------------------------------

    def apply(self, event_type: str, data: dict) -> None:
        if event_type == "AccountOpened":
            self.owner, self.is_open = data["owner"], True
        elif event_type == "MoneyDeposited":
            self.balance_cents += data["amount_cents"]
        elif event_type == "MoneyWithdrawn":
            self.balance_cents -= data["amount_cents"]
        else:
            raise ValueError(f"unknown event type {event_type!r}")

    def snapshot(self) -> dict:
        return {"owner": self.owner, "balance_cents": self.balance_cents, "is_open": self.is_open}


def upcast_deposit_v1(data: dict) -> dict:
    """MoneyDeposited v1 had `amount` in euros and no currency; v2 has cents and a currency."""
    return {"amount_cents": round(data.pop("amount") * 100), "currency": "EUR", **data}


class AccountRepository:
    """Loads and saves accounts; takes a snapshot every `snapshot_every` events (0 = never)."""

    def __init__(self, store: EventStore, snapshot_every: int = 0) -> None:
        self.store, self.snapshot_every = store, snapshot_every
        self.replayed = 0  # events the last `load` had to replay: its cost, counted
        store.register_upcaster("MoneyDeposited", 1, upcast_deposit_v1)

    def load(self, account_id: str, use_snapshot: bool = True) -> BankAccount:
        account = BankAccount(account_id)
        snapshot = self.store.latest_snapshot(account_id) if use_snapshot else None
        if snapshot:
            account.version, state = snapshot
            account.owner, account.balance_cents = state["owner"], state["balance_cents"]
            account.is_open = state["is_open"]
        events = self.store.read_stream(account_id, after_version=account.version)
        for event in events:
            self._apply(account, event)
        self.replayed = len(events)
        return account

    @staticmethod
    def _apply(account: BankAccount, event: RecordedEvent) -> None:
        account.apply(event.type, event.data)
        account.version = event.version

    def save(self, account: BankAccount, outbox_topic: str | None = None) -> list[RecordedEvent]:
        """Append the account's new events; ConcurrencyError if someone else appended first."""
        recorded = self.store.append(
            account.account_id, account.pending, account.version, outbox_topic=outbox_topic
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
