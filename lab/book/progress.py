"""The code cells of the executed notebooks that ran longer than a few seconds in silence.

A learner who runs a long cell should see it move: a tqdm bar, or status lines printed as it
goes. papermill records each cell's run time (`metadata.papermill.duration`); a cell counts as
showing progress when it wrote to stdout or stderr (tqdm's text bar, a status line) or showed a
widget (tqdm's bar in Jupyter) — things that appear while it runs. A table, a plot or a value shown
as the cell's result appears only once it has finished, so it does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

SILENT_LIMIT_S = 5.0
WIDGET = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class SilentCell:
    notebook: str
    index: int  # the cell's position in the notebook, counting every cell from 0
    run_s: float
    first_line: str

    def __str__(self) -> str:
        return (
            f"{self.notebook} cell {self.index} ran {self.run_s:.1f} s without progress output: "
            f"{self.first_line}"
        )


def shows_progress(cell: nbformat.NotebookNode) -> bool:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            return True
        if WIDGET in output.get("data", {}):
            return True
    return False


def silent_cells(executed: Path, limit_s: float = SILENT_LIMIT_S) -> list[SilentCell]:
    """The cells of one executed notebook that ran over `limit_s` without progress output."""
    notebook = nbformat.read(executed, as_version=4)
    found = []
    for index, cell in enumerate(notebook.cells):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.cell_type != "code" or duration is None or duration <= limit_s:
            continue
        if not shows_progress(cell):
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            found.append(SilentCell(executed.name, index, duration, first.strip()[:80]))
    return found


def report(executed: list[Path], limit_s: float = SILENT_LIMIT_S) -> list[SilentCell]:
    """Every silent cell of the executed notebooks, slowest first."""
    cells = [cell for path in executed for cell in silent_cells(path, limit_s)]
    return sorted(cells, key=lambda cell: cell.run_s, reverse=True)
