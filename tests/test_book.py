"""`make book` on small synthetic notebooks: pages, links, the index, the single revision book,
and a failing notebook that makes the build exit 1 naming the notebook and the cell.

`synthetic_notebooks` is shared with test_book_browser.py, which prints and opens the result."""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib.image
import nbformat
import psutil
import pytest

from lab.book import browser, build, links, pages
from lab.book.pages import NotebookRun
from lab.brokers import install, leaks

LONG_LINE = "line = " + " + ".join(f"'part-{i}'" for i in range(14)) + "  # END-OF-A-LONG-LINE"
ANSWER = "Duplicates written by retries, ANSWER-IDEMPOTENT-PRODUCER."
TITLES = {  # notebook -> the heading its first cell starts with
    "01-Plots-And-Tables": "01 · Throughput in a plot and a table",
    "02-Interview-Corner": "02 · What interviewers ask",
    "03-Broken": "03 · A notebook that fails",
}


def write_notebook(path: Path, *cells) -> Path:
    notebook = nbformat.v4.new_notebook(cells=list(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def md(source: str):
    return nbformat.v4.new_markdown_cell(source)


def code(source: str):
    return nbformat.v4.new_code_cell(source)


def synthetic_notebooks(folder: Path) -> list[Path]:
    """A plot, a table and a long code line; an Interview corner; a failing cell."""
    (folder / "pictures").mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(folder / "pictures" / "queue.png", [[0.0, 1.0], [1.0, 0.0]])
    plots = write_notebook(
        folder / "01-Plots-And-Tables.ipynb",
        md(f"# {TITLES['01-Plots-And-Tables']}\n\n**Time:** 7 minutes to read, seconds to run."),
        code("import matplotlib.pyplot as plt\nimport pandas as pd"),
        md("## 1. A plot"),
        code("fig, ax = plt.subplots()\nax.plot([1, 2, 3], [300, 100, 200])\nplt.show()"),
        code(LONG_LINE + "\nlen(line)"),
        md("## 2. A table"),
        code('pd.DataFrame({"broker": ["kafka", "redis"], "throughput_msg_s": [9000, 7000]})'),
        md(
            "See [the answers](02-Interview-Corner.ipynb#Interview-corner), "
            "[the plot](#1.-A-plot), [the next notebook](02-Interview-Corner.ipynb) and "
            "[the Python docs](https://docs.python.org/3/).\n\n"
            "![a queue](pictures/queue.png)\n\n"
            "[Contents](../README.md#notebooks)"
        ),
    )
    corner = write_notebook(
        folder / "02-Interview-Corner.ipynb",
        md(f"# {TITLES['02-Interview-Corner']}\n\n**Time:** 3 minutes to read, seconds to run."),
        code("answer = 6 * 7\nanswer"),
        md(
            "## Interview corner\n\n"
            "<details><summary>What does an idempotent producer prevent?</summary>\n\n"
            f"{ANSWER}\n</details>\n\n"
            "<details><summary>Where is the plot?</summary>\n\n"
            "In [the first notebook](01-Plots-And-Tables.ipynb#1.-A-plot).\n</details>"
        ),
    )
    broken = write_notebook(
        folder / "03-Broken.ipynb",
        md(f"# {TITLES['03-Broken']}"),
        code("answer = 6 * 7\nanswer"),
        code("raise ValueError('poison message')"),
    )
    return [plots, corner, broken]


def test_a_failing_cell_is_named_and_the_rest_is_still_rendered(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "BOOK", tmp_path / "book")
    source = synthetic_notebooks(tmp_path / "notebooks")[2]

    assert build.main(["--no-pdf", str(source)]) == 1

    err = capsys.readouterr().err
    assert str(source) in err and "cell 2" in err and "ValueError: poison message" in err
    page = (tmp_path / "book" / "03-Broken.html").read_text()
    assert "42" in page, "the cells before the failure were not rendered"
    assert "failed" in (tmp_path / "book" / "index.html").read_text()
    book = (tmp_path / "book" / "revision-book.html").read_text()
    assert "This notebook failed" in book and "poison message" in book


def test_without_chromium_the_html_is_built_and_the_pdf_skipped_naming_the_fix(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(build, "BOOK", tmp_path / "book")
    monkeypatch.setattr(browser, "find", lambda: None)  # Chromium is not installed...
    monkeypatch.setattr(install, "find", lambda program: None)
    monkeypatch.setattr(install, "_can_apt_install", lambda: False)  # ...and cannot be
    source = synthetic_notebooks(tmp_path / "notebooks")[1]

    assert build.main([str(source)]) == 0

    out, err = capsys.readouterr()
    assert "the PDF will be skipped" in err and "install" in err and "CHROMIUM" in err
    assert "--pdf-only" in out
    assert (tmp_path / "book" / "revision-book.html").exists()
    assert not (tmp_path / "book" / "revision-book.pdf").exists()
    assert ".pdf" not in (tmp_path / "book" / "index.html").read_text()


def test_a_chromium_setting_that_is_no_program_is_named(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nowhere/chrome")
    with pytest.raises(browser.ChromiumUnavailable, match="CHROMIUM=/nowhere/chrome"):
        browser.ensure()


@pytest.fixture
def rendered(tmp_path) -> list[NotebookRun]:
    """The synthetic notebooks rendered as they are (not executed): quick, no kernel needed."""
    book = tmp_path / "book"
    book.mkdir()
    runs = []
    for source in synthetic_notebooks(tmp_path / "notebooks"):
        page = book / f"{source.stem}.html"
        page.write_text(pages.render_page(Path(shutil.copy(source, book)), source))
        runs.append(NotebookRun(source, page, run_s=2.0, failure=None))
    return runs


def test_reading_time_comes_from_the_first_cell(tmp_path):
    notebook = write_notebook(tmp_path / "n.ipynb", md("# T\n\n**Time:** 25 minutes to read."))
    assert pages.reading_minutes(notebook) == 25
    assert pages.reading_minutes(write_notebook(tmp_path / "m.ipynb", md("# T"))) is None


def test_pages_link_to_pages_and_the_contents_to_the_index(rendered):
    page = rendered[0].page.read_text()
    assert 'href="02-Interview-Corner.html#Interview-corner"' in page
    assert 'href="02-Interview-Corner.html"' in page and 'href="index.html"' in page
    assert 'src="../notebooks/pictures/queue.png"' in page, "a picture is linked from its place"
    assert ".ipynb" not in page.split("<main>")[1]
    assert not re.search(r"<script[^>]*\ssrc=", page), "the book loads no script from elsewhere"


def test_answers_stay_inside_their_details(rendered):
    page = rendered[1].page.read_text()
    answers = re.findall(r"<details>(.*?)</details>", page, re.S)
    assert len(answers) == 2 and ANSWER in answers[0]


def test_the_revision_book_has_a_cover_contents_and_every_notebook_with_unique_anchors(rendered):
    book = pages.revision_book(rendered)

    assert book.count('<section class="chapter"') == 3
    assert 'id="contents"' in book and 'class="book-cover"' in book
    for stem in TITLES:
        assert f'<a href="#{stem}">' in book, f"{stem} is not in the contents"
    # Links between notebooks and to sections land on the chapters' own anchors...
    assert 'href="#02-Interview-Corner--Interview-corner"' in book
    assert 'id="02-Interview-Corner--Interview-corner"' in book
    assert 'href="#01-Plots-And-Tables--1.-A-plot"' in book
    assert 'href="#02-Interview-Corner"' in book and 'href="#contents"' in book
    assert 'href="https://docs.python.org/3/"' in book
    # ...and are never ambiguous: every anchor appears once.
    assert book.count('id="01-Plots-And-Tables--1.-A-plot"') == 1
    assert links.broken_anchors(book) == []
    assert "7 min to read · ran in 2 s · passed" in book
    assert "About 0 h 10 min of reading" in book


def test_links_to_a_missing_section_are_found():
    page = '<h2 id="Setup">Setup</h2> <a href="#Setup">ok</a> <a href="#Set-up">renamed</a>'
    assert links.broken_anchors(page) == ["#Set-up"]


def test_an_escaped_quote_in_a_link_lands_where_the_browser_takes_it():
    page = """<h2 id="The-syllabus's-table">x</h2> <a href="#The-syllabus&#x27;s-table">ok</a>"""
    assert links.broken_anchors(page) == []
    assert links.broken_anchors(page.replace("&#x27;s", "&#x27;S")) == ["#The-syllabus'S-table"]


def test_the_index_shows_reading_time_run_time_and_the_result(rendered, tmp_path):
    runs = [*rendered[:2], NotebookRun(rendered[2].source, rendered[2].page, 3.0, "cell 2 failed")]
    index = pages.index_page(runs, book=None, pdf=None)
    assert "7 min" in index and "3 min" in index and "2 s" in index
    assert index.count("passed") == 2 and "failed: cell 2 failed" in index
    assert 'href="01-Plots-And-Tables.html"' in index


def test_a_notebook_that_shows_a_secret_fails_and_the_book_does_not_show_it(
    tmp_path, monkeypatch, capsys
):
    """The book build scans every executed notebook, failed cells too, with the scan the
    notebooks' tests use: a leak fails the notebook, and the secret is removed from its page."""
    state = tmp_path / "state"
    (state / "secure").mkdir(parents=True)
    secret = "a-lab-password-for-this-test-only"
    (state / "secure" / "passwords.json").write_text(json.dumps({"writer": secret}))
    monkeypatch.setenv("LAB_STATE_DIR", str(state))
    monkeypatch.setattr(build, "BOOK", tmp_path / "book")
    (tmp_path / "notebooks").mkdir()
    source = write_notebook(
        tmp_path / "notebooks" / "04-Leaky.ipynb",
        md("# 04 · A notebook that prints a password"),
        code(
            "import json, os\n"
            "path = os.path.join(os.environ['LAB_STATE_DIR'], 'secure', 'passwords.json')\n"
            "print('the writer logs in with', json.load(open(path))['writer'])"
        ),
        code("raise PermissionError('refused: ' + json.load(open(path))['writer'])"),
    )

    assert build.main(["--no-pdf", str(source)]) == 1

    err = capsys.readouterr().err
    assert err.count("shows writer's password") == 2 and "never print a secret" in err
    assert "PermissionError" in err and secret not in err  # the failure, without the secret
    shown = {
        name: secret in (tmp_path / "book" / name).read_text()
        for name in ("04-Leaky.ipynb", "04-Leaky.html", "revision-book.html", "index.html")
    }
    assert not any(shown.values()), shown
    assert leaks.REDACTED in (tmp_path / "book" / "04-Leaky.html").read_text()


def test_the_scan_finds_each_kind_of_secret_and_nothing_else(tmp_path, monkeypatch):
    (tmp_path / "secure").mkdir()
    (tmp_path / "secure" / "passwords.json").write_text(json.dumps({"admin": "admin-secret-1"}))
    (tmp_path / "secure" / "field.key").write_text("field-key-secret\n")
    (tmp_path / "rabbitmq-cluster.cookie").write_text("COOKIESECRET")
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://:url-secret/with-slash@localhost:6380/0")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@localhost:5672/%2F")  # well known
    cells = [
        {"outputs": [{"output_type": "stream", "text": "admin-secret-1"}]},
        {"outputs": [{"output_type": "error", "traceback": ["x field-key-secret y"]}]},
        {"outputs": [{"data": {"text/plain": "'COOKIESECRET'"}}]},
        {"outputs": [{"data": {"text/html": "url-secret/with-slash"}}]},
        {"outputs": [{"text": "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----"}]},
        {"outputs": [{"text": "guest logs in; nothing secret here"}]},
        {"cell_type": "markdown", "source": "admin-secret-1"},  # no outputs: not shown as run
    ]
    assert leaks.cell_leaks(cells) == {
        0: ["admin's password"],
        1: ["the field-encryption key"],
        2: ["the clusters' Erlang cookie"],
        3: ["the password in $REDIS_URL"],
        4: ["a private key"],
    }
    leaks.redact_cells(cells)
    assert leaks.cell_leaks(cells) == {}
    assert "MIGHAgEA" not in json.dumps(cells)  # the key's body, not only its first line


def test_chromium_keeps_its_sandbox_unless_it_runs_as_root():
    assert "--no-sandbox" not in browser.headless_flags(root=False)
    assert "--no-sandbox" in browser.headless_flags(root=True)  # it cannot start there


def test_a_run_that_times_out_leaves_no_process_of_its_group(tmp_path):
    """Chromium's children (renderer, GPU, zygote) outlive a browser killed alone: the whole
    process group goes. The stand-in's child holds no pipe, so only a group kill reaches it."""
    pid_file = tmp_path / "child.pid"
    script = f"sleep 300 >/dev/null 2>&1 & echo $! > {pid_file}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        browser.run_group(["sh", "-c", script], timeout_s=2)
    child = psutil.Process(int(pid_file.read_text()))
    deadline = time.monotonic() + 5  # for the kernel to finish the kill
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(child):
        child.kill()  # not left behind; but the timeout did not kill it
        pytest.fail(f"pid {child.pid} outlived its group's timeout")


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
