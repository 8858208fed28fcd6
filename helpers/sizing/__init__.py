"""Sizing a messaging design from figures: this machine's measurements where `make bench` (or
`measure`) wrote them, published figures or labelled assumptions elsewhere.

    from helpers import sizing
    figures = sizing.load_figures()                      # results/latest, else the fallbacks
    figures = sizing.load_figures([sizing.LATEST, quick])  # per figure, the first that measured it
    load = sizing.Load(messages_per_s=5_000, message_bytes=500, retention_s=7 * 86_400)
    proposals = sizing.propose(load, figures)            # partitions/queues/streams, consumers...
    sizing.table(proposals); sizing.recommend(load, proposals)
    figures.sources()                                    # every figure with its source

`measure` times one Kafka partition in a few seconds (rows shaped like the bench's summary.csv);
`designs` draws the model answers of notebook 19's rounds with a proposal's numbers.
Not for measuring a broker in depth (see `make bench`).
"""

from .calculator import Load, Proposal, propose, recommend, size, table
from .drawing import design
from .figures import FALLBACK, LATEST, Figure, Figures, LaneFigures, load_figures

__all__ = [
    "FALLBACK",
    "LATEST",
    "Figure",
    "Figures",
    "LaneFigures",
    "Load",
    "Proposal",
    "design",
    "load_figures",
    "propose",
    "recommend",
    "size",
    "table",
]
