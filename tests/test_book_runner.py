"""`lotus book`'s runner: the chapter shown before it runs, the progress bar only on a
terminal, the final time table and the rerun note appended to every executed chapter
(small synthetic notebooks, as in tests/test_cli.py)."""

import io
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from lotus.book import NotebookError, NotebookRun, run_book
from lotus.book.runner import RERUN_NOTE_TAG, add_rerun_note, time_table
from lotus.cli import main


@pytest.fixture
def chapters(tmp_path, write_notebook):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    params = 'profile = "cpu"\noverrides = {}\noutput_dir = "figures/x"'
    write_notebook(repo / "notebooks" / "01_ok.ipynb", params, "print('profile is', profile)", title="First chapter")
    write_notebook(repo / "notebooks" / "02_fail.ipynb", params, "raise ValueError('broken on purpose')", title="Second chapter")
    write_notebook(repo / "notebooks" / "03_after.ipynb", params, "1 + 1", title="Third chapter")
    return repo


def _notes(nb) -> list:
    return [c for c in nb.cells if RERUN_NOTE_TAG in c.metadata.get("tags", [])]


def test_time_table_has_a_row_per_chapter_and_a_total():
    runs = [NotebookRun("01_ok", 12.34, True, "a.ipynb"), NotebookRun("02_slow_one", 125.0, False, "b.ipynb"),
            NotebookRun("03_after", None, False, "c.ipynb")]
    lines = time_table(runs).splitlines()
    rows = [line.split() for line in lines if not set(line) <= {"-"}]
    assert rows[0] == ["chapter", "status", "time"]
    assert rows[1] == ["01_ok", "ok", "12.3", "s"]
    assert rows[2] == ["02_slow_one", "FAILED", "2", "min", "05", "s"]
    assert rows[3] == ["03_after", "not", "run", "-"]
    assert rows[4] == ["total", "1/3", "ok", "2", "min", "17", "s"]  # 137.34 s: chapters that ran
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert [r.status for r in runs] == ["ok", "FAILED", "not run"]


def test_rerun_note_names_the_chapter_and_the_profile_once(tmp_path, write_notebook):
    path = tmp_path / "05_forget_50.ipynb"
    write_notebook(path, "profile = 'cpu'", "1", title="Forget half")
    add_rerun_note(path, profile="cpu")
    add_rerun_note(path, profile="cpu")  # a second staging replaces the note
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    (note,) = _notes(nb)
    assert nb.cells[-1] is note and note.cell_type == "markdown" and len(nb.cells) == 4
    text = note.source
    assert "executed with the profile `cpu`" in text
    assert "lotus book --only 05 --profile tiny" in text
    assert "papermill 05_forget_50.ipynb" in text and "-p profile tiny" in text and "-y 'overrides: {" in text
    add_rerun_note(path, profile="tiny")  # a tiny build suggests the next larger profile
    (note,) = _notes(nbformat.read(str(path), as_version=4))
    assert "executed with the profile `tiny`" in note.source and "--only 05 --profile cpu" in note.source
    add_rerun_note(path, profile=None)
    (note,) = _notes(nbformat.read(str(path), as_version=4))
    assert "not executed" in note.source and "executed with the profile" not in note.source


def test_run_book_announces_each_chapter_and_ends_with_a_time_table(chapters, caplog):
    """Real kernels: the chapter is named before it runs, the table lists every chapter, the
    executed copy (with its outputs) gets the rerun note, a failed one does not."""
    with pytest.raises(NotebookError, match="02_fail.ipynb failed"), caplog.at_level("INFO", logger="lotus"):
        run_book("tiny", repo=chapters, build=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "lotus.book.runner"]
    running = messages.index("[1/3] 01_ok (First chapter): running")
    assert messages[running + 1].startswith("[1/3] 01_ok: ok in ")
    assert "[2/3] 02_fail (Second chapter): running" in messages
    assert not any(m.startswith("[3/3] 03_after") for m in messages)  # stopped at the failure
    table = next(m for m in messages if m.startswith("chapter times"))
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert rows["01_ok"].split()[1] == "ok" and rows["01_ok"].endswith(" s")
    assert rows["02_fail"].split()[1] == "FAILED"
    assert rows["03_after"].split()[1:] == ["not", "run", "-"]
    assert rows["total"].split()[1:3] == ["1/3", "ok"]
    staged = chapters / "_build" / "book-src" / "notebooks"
    nb = nbformat.read(str(staged / "01_ok.ipynb"), as_version=4)
    (note,) = _notes(nb)
    assert "profile `tiny`" in note.source and "lotus book --only 01 --profile cpu" in note.source
    outputs = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert "profile is tiny\n" in outputs  # the note went into the executed copy
    assert not _notes(nbformat.read(str(staged / "02_fail.ipynb"), as_version=4))
    prov = json.loads((chapters / "_build" / "book-src" / "book-provenance.json").read_text())
    assert [(n["name"], n["status"]) for n in prov["notebooks"]] == [
        ("01_ok", "ok"), ("02_fail", "FAILED"), ("03_after", "not run")]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def fake_papermill(monkeypatch):
    """papermill.execute_notebook replaced by a copy that records its progress_bar argument."""
    import papermill

    calls = []

    def execute(input_path, output_path, **kw):
        calls.append((Path(input_path).stem, kw["progress_bar"]))
        shutil.copy(input_path, output_path)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    return calls


def test_progress_bar_only_when_stderr_is_a_terminal(chapters, fake_papermill, monkeypatch, capsys):
    run_book("tiny", repo=chapters, build=False, only=["01"])
    assert fake_papermill[-1] == ("01_ok", False)  # pytest's captured stderr is no terminal
    monkeypatch.setattr(sys, "stderr", _Terminal())
    run_book("tiny", repo=chapters, build=False, only=["01"])
    stem, bar = fake_papermill[-1]
    assert stem == "01_ok" and bar["desc"] == "01_ok" and bar["disable"] is False and bar["file"] is sys.stderr
    run_book("tiny", repo=chapters, build=False, only=["01"], progress=False)
    assert fake_papermill[-1] == ("01_ok", False)
    # the command line: a bar on a terminal, none with -q; chapter lines and table on stderr
    assert main(["book", "--profile", "tiny", "--repo", str(chapters), "--only", "01", "03", "--no-build"]) == 0
    assert [bool(bar) for _, bar in fake_papermill[-2:]] == [True, True]
    err = sys.stderr.getvalue()
    assert err.index("[1/2] 01_ok (First chapter): running") < err.index("[2/2] 03_after (Third chapter): running")
    assert "chapter times" in err and "2/2 ok" in err
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert main(["-q", "book", "--profile", "tiny", "--repo", str(chapters), "--only", "01", "--no-build"]) == 0
    assert fake_papermill[-1] == ("01_ok", False)
    err = sys.stderr.getvalue()  # only warnings (the tiny profile's chapters are not in this repo)
    assert "running" not in err and "chapter times" not in err
    assert all(line.startswith("lotus book: warning: ") for line in err.splitlines())


def _fake_jupyter_book(tmp_path, monkeypatch, *, fail: bool):
    """A stand-in for `jupyter-book build SRC --path-output OUT ...` that writes one page under
    OUT/_build/html, or fails after writing half a site."""
    from lotus.book import runner

    script = tmp_path / ("jb-fail" if fail else "jb-ok")
    script.write_text(
        "#!" + sys.executable + "\n"
        "import sys, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--path-output') + 1]) / '_build' / 'html'\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'index.html').write_text('new site')\n"
        f"sys.exit({1 if fail else 0})\n")
    script.chmod(0o755)
    monkeypatch.setattr(runner, "_jupyter_book", lambda: str(script))
    return runner


def test_a_built_site_replaces_the_old_one_without_its_stale_pages(tmp_path, monkeypatch):
    runner = _fake_jupyter_book(tmp_path, monkeypatch, fail=False)
    repo = tmp_path / "repo"
    old = repo / "_build" / "html"
    (old / "_modules" / "lotus").mkdir(parents=True)
    (old / "_modules" / "lotus" / "data.html").write_text("a module page of an earlier build")
    (old / "index.html").write_text("old site")
    site = runner.build_site(repo, tmp_path / "staging")
    assert site == old and (site / "index.html").read_text() == "new site"
    assert not (site / "_modules").exists()  # nothing of the earlier build is left
    assert sorted(p.name for p in (repo / "_build").iterdir()) == ["html"]  # no work folders left


def test_a_failed_build_keeps_the_previous_site(tmp_path, monkeypatch):
    runner = _fake_jupyter_book(tmp_path, monkeypatch, fail=True)
    repo = tmp_path / "repo"
    (repo / "_build" / "html").mkdir(parents=True)
    (repo / "_build" / "html" / "index.html").write_text("old site")
    with pytest.raises(runner.BookError, match="previous site .* is unchanged"):
        runner.build_site(repo, tmp_path / "staging")
    assert (repo / "_build" / "html" / "index.html").read_text() == "old site"
    assert sorted(p.name for p in (repo / "_build").iterdir()) == ["html"]  # the half-built site is gone
