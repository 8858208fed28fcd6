"""The book's report of long cells that run in silence, on a notebook papermill really runs."""

from pathlib import Path

import nbformat
import papermill

from lab.book import progress


def test_a_long_silent_cell_is_reported_and_a_long_cell_that_prints_is_not(tmp_path: Path):
    source, executed = tmp_path / "01-Waits.ipynb", tmp_path / "executed.ipynb"
    cells = [
        "import time",
        "time.sleep(1.5)  # silent\n'a result shown at the end is no progress'",
        "for step in range(3):\n    print('step', step)  # a status line\n    time.sleep(0.5)",
        "time.sleep(0.2)  # short: no progress needed",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        str(source), str(executed), kernel_name="python3", progress_bar=False
    )

    silent = progress.report([executed], limit_s=1.0)

    assert [(cell.index, cell.first_line) for cell in silent] == [(1, "time.sleep(1.5)  # silent")]
    assert silent[0].run_s >= 1.5
    assert "cell 1 ran" in str(silent[0]) and "without progress output" in str(silent[0])


def test_make_book_names_the_silent_cells(tmp_path: Path, monkeypatch, capsys):
    from lab.book import build

    monkeypatch.setattr(build, "BOOK", tmp_path / "book")
    monkeypatch.setattr(progress, "SILENT_LIMIT_S", 1.0)
    source = tmp_path / "01-Waits.ipynb"
    cells = ["# 01 · Waits", "import time\ntime.sleep(1.2)"]
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(cells[0]), nbformat.v4.new_code_cell(cells[1])]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, source)

    assert build.main(["--no-pdf", str(source)]) == 0

    assert "without progress output: 1" in capsys.readouterr().out
    report = (tmp_path / "book" / "silent-cells.txt").read_text()
    assert report.startswith("01-Waits.ipynb cell 1 ran") and "import time" in report
