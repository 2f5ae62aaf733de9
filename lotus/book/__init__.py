"""The book: :func:`chapter` gives a notebook its settings, models and results store;
:func:`run_book` executes the notebooks with a profile and builds the site (``lotus book``);
:mod:`lotus.book.report` holds the tables the benchmark chapters share."""

from . import report
from .chapter import Chapter, chapter, project_dir
from .runner import BookError, BookReport, NotebookError, NotebookRun, find_repo, list_notebooks, run_book

__all__ = ["chapter", "Chapter", "project_dir", "report", "run_book", "list_notebooks", "find_repo", "BookError",
           "NotebookError", "BookReport", "NotebookRun"]
