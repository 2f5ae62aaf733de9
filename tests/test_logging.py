"""Logging: one ``lotus`` logger with a child per module, no print and no root-logger setup in
the library, and the command line's ``-v`` / ``-q``."""

import ast
import importlib
import logging
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import lotus
import lotus.cli
from lotus.cli import build_parser, main

PKG = Path(lotus.__file__).resolve().parent


def _library_files():
    return sorted(p for p in PKG.rglob("*.py") if p.name != "cli.py")


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            yield name, node


def test_library_has_no_print_and_configures_no_logging():
    """Progress and diagnostics go through loggers; handlers and levels are the application's
    (here lotus/cli.py, and the ``main`` of a module run with ``python -m``) to choose, and a module logger is always named after its module."""
    problems = []
    for path in _library_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a module's `main`, run by `python -m lotus.<module>`, is an application like the CLI
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]:
            tree.body.remove(fn)
        for name, node in _calls(tree):
            where = f"{path.relative_to(PKG.parent)}:{node.lineno}"
            if name == "print":
                problems.append(f"{where}: print()")
            elif name in ("basicConfig", "addHandler", "setLevel", "captureWarnings", "dictConfig", "fileConfig"):
                problems.append(f"{where}: {name}() configures logging")
            elif name == "getLogger":
                arg = node.args[0] if node.args else None
                if not (isinstance(arg, ast.Name) and arg.id == "__name__"):
                    problems.append(f"{where}: getLogger() without __name__")
    assert not problems, "\n".join(problems)


def test_module_loggers_are_children_of_the_lotus_logger():
    modules = [m.name for m in pkgutil.walk_packages(lotus.__path__, "lotus.") if not m.name.endswith("__main__")]
    found = {}
    for name in modules:
        mod = importlib.import_module(name)
        lg = getattr(mod, "logger", None)
        if isinstance(lg, logging.Logger):
            found[name] = lg
    # the modules that report progress or debug information have a logger
    assert {"lotus.book.runner", "lotus.experiment", "lotus.train", "lotus.methods"} <= set(found)
    root = logging.getLogger("lotus")
    for name, lg in found.items():
        assert lg.name == name
        parent = lg.parent
        while parent is not None and parent is not root:
            parent = parent.parent
        assert parent is root, f"{name}'s logger is not below the 'lotus' logger"


def test_importing_and_running_the_cli_leave_the_root_logger_alone():
    code = (
        "import logging, sys, warnings\n"
        "import lotus, lotus.cli, lotus.book, lotus.experiment\n"
        "assert logging.root.handlers == [] and logging.root.level == logging.WARNING, 'import configured root'\n"
        "show = warnings.showwarning\n"
        "assert lotus.cli.main(['-v', 'list']) == 0\n"
        "assert logging.root.handlers == [] and logging.root.level == logging.WARNING, 'main configured root'\n"
        "lg = logging.getLogger('lotus')\n"
        "assert lg.handlers == [] and lg.level == logging.NOTSET and lg.propagate, 'main left lotus configured'\n"
        "assert warnings.showwarning is show\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("argv, verbose, quiet", [
    (["list"], 0, False),
    (["-v", "list"], 1, False), (["list", "-v"], 1, False), (["-vv", "run"], 2, False),
    (["-q", "run"], 0, True), (["run", "-q"], 0, True), (["train", "--quiet"], 0, True),
    (["--quiet", "book"], 0, True), (["book", "-q"], 0, True), (["-v", "book", "--verbose"], 1, False),
])
def test_verbose_and_quiet_are_global_and_per_command(argv, verbose, quiet):
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


@pytest.fixture
def noisy_list(monkeypatch):
    """`lotus list` replaced by a command that logs at every level, warns and prints a result."""
    def cmd(args):
        log = logging.getLogger("lotus.fake")
        log.debug("a debug message")
        log.info("an info message")
        log.warning("a logged warning")
        warnings.warn("a python warning", UserWarning, stacklevel=1)
        print("the result table")
        return 0

    monkeypatch.setattr(lotus.cli, "cmd_list", cmd)


@pytest.mark.parametrize("flags, shown, hidden", [
    ([], ["an info message"], ["a debug message"]),
    (["-v"], ["an info message", "debug [lotus.fake] a debug message", "UserWarning from"], []),
    (["-q"], [], ["an info message", "a debug message"]),
])
def test_cli_log_levels(noisy_list, capsys, flags, shown, hidden):
    for argv in ([*flags, "list"], ["list", *flags]):
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            assert main(argv) == 0
        out, err = capsys.readouterr()
        assert out == "the result table\n", argv  # results on stdout, never mixed with messages
        for text in ["warning: a logged warning", "warning: a python warning", *shown]:
            assert text in err, (argv, err)
        for text in hidden:
            assert text not in err, (argv, err)
    assert logging.getLogger("lotus").handlers == []


def test_verbose_run_shows_the_steps_and_quiet_silences_them(tmp_path, capsys):
    base = ["run", "--profile", "tiny", "--method", "original", "--seeds", "0", "--results", str(tmp_path),
            "--device", "cpu"]
    assert main(["-v", *base, "--force"]) == 0
    out, err = capsys.readouterr()
    assert "acc_forget" in out
    assert "debug [lotus.experiment]" in err and "running" in err
    # trained or loaded from the cache, or (earlier in this process) already in memory
    assert "debug [lotus.train] original small_cnn/digits:" in err or "already in memory" in err
    assert main(["-q", *base, "--force"]) == 0
    out, err = capsys.readouterr()
    assert "acc_forget" in out
    assert "debug" not in err and "experiments" not in err  # no messages, no progress bar
