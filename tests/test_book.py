"""`make book`: a failing notebook makes the build exit 1, naming the notebook and the cell."""

import nbformat

from scripts import build_book


def test_a_failing_cell_is_named_and_the_rest_is_still_rendered(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build_book, "BOOK", tmp_path / "book")
    source = tmp_path / "99-Broken.ipynb"
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Broken"),
            nbformat.v4.new_code_cell("answer = 6 * 7\nanswer"),
            nbformat.v4.new_code_cell("raise ValueError('poison message')"),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, source)

    assert build_book.main([str(source)]) == 1

    err = capsys.readouterr().err
    assert str(source) in err and "cell 2" in err and "ValueError: poison message" in err
    page = (tmp_path / "book" / "99-Broken.html").read_text()
    assert "42" in page, "the cells before the failure were not rendered"
    assert "failed" in (tmp_path / "book" / "index.html").read_text()
