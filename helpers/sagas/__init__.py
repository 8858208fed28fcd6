"""The order saga (ProcessPayment, ReserveInventory, CompleteOrder; compensations CancelOrder and
RefundPayment) in both styles, choreography and orchestration, with idempotent participants,
injected failures and the invariants every order must satisfy."""

from .choreography import run_choreography
from .invariants import final_states, violations
from .messages import Kind, SagaMessage
from .orchestrator import SagaStore, orchestrate, serve_participants, start_orchestrator
from .participants import Inventory, Order, Payments

__all__ = [
    "Inventory",
    "Kind",
    "Order",
    "Payments",
    "SagaMessage",
    "SagaStore",
    "final_states",
    "orchestrate",
    "run_choreography",
    "serve_participants",
    "start_orchestrator",
    "violations",
]
