"""The saga's invariants, checked for every order after a run, whichever style ran it:

- no order completed without a payment that was kept and stock that was reserved;
- every cancelled order that was charged was refunded, and none was refunded twice;
- money is conserved: charged - refunded == the total of completed orders;
- stock is conserved: initial stock - stock left == the quantity of completed orders.
"""

from __future__ import annotations

import pandas as pd

from .participants import Inventory, Order, Payments


def final_states(
    orders: list[Order], status: dict[str, str], payments: Payments, inventory: Inventory
) -> pd.DataFrame:
    rows = [
        {
            "order_id": o.order_id,
            "status": status.get(o.order_id, "unfinished"),
            "charged_cents": payments.charges.get(o.order_id, 0),
            "refunded_cents": payments.refunds.get(o.order_id, 0),
            "reserved": inventory.reservations.get(o.order_id, 0),
            "amount_cents": o.amount_cents,
            "quantity": o.quantity,
        }
        for o in orders
    ]
    return pd.DataFrame(rows).set_index("order_id")


def violations(table: pd.DataFrame, initial_stock: int, inventory: Inventory) -> list[str]:
    """Every broken invariant, as a sentence; an empty list means all hold."""
    found = []
    completed = table[table["status"] == "completed"]
    cancelled = table[table["status"] == "cancelled"]
    unfinished = table[~table["status"].isin(["completed", "cancelled"])]
    found += [f"{o}: did not finish" for o in unfinished.index]
    unpaid = completed["charged_cents"] != completed["amount_cents"]
    refunded = completed["refunded_cents"] > 0
    unreserved = completed["reserved"] != completed["quantity"]
    bad = completed[unpaid | refunded | unreserved]
    found += [f"{o}: completed without a kept payment and reserved stock" for o in bad.index]
    unrefunded = cancelled[cancelled["charged_cents"] != cancelled["refunded_cents"]]
    found += [f"{o}: cancelled but charged and not refunded" for o in unrefunded.index]
    found += [f"{o}: cancelled but holds stock" for o in cancelled[cancelled["reserved"] > 0].index]
    kept = table["charged_cents"].sum() - table["refunded_cents"].sum()
    if kept != completed["amount_cents"].sum():
        found.append(
            f"money not conserved: kept {kept}, completed {completed['amount_cents'].sum()}"
        )
    if initial_stock - inventory.stock != completed["quantity"].sum():
        found.append("stock not conserved")
    return found
