"""The `lotus` command line and the `lotus book` runner."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lotus
from lotus.book import NotebookError, list_notebooks, run_book
from lotus.book.runner import declared_parameters, notebook_parameters, stage_book
from lotus.cli import main, parse_assignments, parse_value
from lotus.profiles import load_profile
from lotus.results import ResultsStore
from lotus.utils import LotusError


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------------
# lotus run / train / list
# ---------------------------------------------------------------------------------------


def test_run_end_to_end_writes_records_and_prints_metrics(tmp_path, capsys):
    results = tmp_path / "res"
    methods = ["original", "gold"]
    extra = []
    if "finetune" in lotus.list_methods():
        methods.append("finetune")
        extra = ["--set", "finetune.epochs=1"]
    rc, out, err = _run(capsys, "run", "--profile", "tiny", "--method", *methods, "--seeds", "0",
                        "--results", str(results), "--device", "cpu", "-q", *extra)
    assert rc == 0, err
    for word in ("acc_forget", "rf_jsd", "avg_gap", "Avg Gap", *methods):
        assert word in out
    df = ResultsStore(results).records()
    assert sorted(df["method"]) == sorted(methods)
    assert set(df["dataset"]) == {"digits"} and set(df["seed"]) == {0}
    epochs = load_profile("tiny")["settings"]["train"]["epochs"]  # the profile's recipe reaches every record
    assert all(r["model_kwargs"] == {"width": 16} and r["train_recipe"]["epochs"] == epochs for r in df.to_dict("records"))
    if "finetune" in methods:
        assert df.set_index("method").loc["finetune", "hparams"]["epochs"] == 1
    # the printed table holds the stored numbers
    gold = df.set_index("method").loc["gold"]
    assert f"{gold['acc_test']:.4f}" in out
    # a second run finds the records and does not re-run them
    rc, out, _ = _run(capsys, "run", "--profile", "tiny", "--method", *methods, "--seeds", "0",
                      "--results", str(results), "--device", "cpu", "-q", *extra)
    assert rc == 0 and f"{len(methods)} already stored" in out
    assert len(ResultsStore(results)) == len(methods)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--profile", "tiny", "--method", "nope"], r"unknown unlearning method 'nope'; valid: .*original"),
        (["run", "--profile", "tiny", "--dataset", "mnist", "--method", "original"], r"unknown dataset 'mnist'; valid: digits"),
        (["run", "--profile", "huge"], r"unknown profile 'huge'; valid: cpu, paper, tiny"),
        (["run", "--profile", "tiny", "--model", "mlp"], r"unknown model 'mlp'; valid: "),
        (["run", "--profile", "tiny", "--set", "alpha"], r"--set expects key=value, got 'alpha'"),
        (["run", "--profile", "tiny", "--method", "original", "--set", "lotus.alpha=2"], r"method 'lotus' is not among"),
        (["run", "--profile", "tiny", "--method", "original", "--train", "epoch=2"], r"unknown TrainRecipe field"),
        (["train", "--profile", "tiny", "--dataset", "svhn"], r"unknown dataset 'svhn'"),
        (["book", "--profile", "huge", "--no-build"], r"unknown profile 'huge'"),
    ],
)
def test_clear_errors_exit_2(capsys, tmp_path, argv, message):
    import re

    rc, out, err = _run(capsys, *argv, *(["--results", str(tmp_path)] if argv[0] == "run" else []))
    assert rc == 2
    assert re.search(message, err), err
    assert "Traceback" not in err + out
    assert len(list(tmp_path.iterdir())) == 0  # nothing ran


def test_unknown_hyper_parameter_names_the_valid_ones(capsys, tmp_path):
    if "lotus" not in lotus.list_methods():
        pytest.skip("lotus not registered yet")
    rc, _, err = _run(capsys, "run", "--profile", "tiny", "--method", "lotus", "--set", "alpah=2",
                      "--results", str(tmp_path))
    assert rc == 2 and "unknown hyper-parameter(s) ['alpah'] for method 'lotus'; valid:" in err and "alpha" in err


def test_help_works_for_a_newcomer(capsys):
    proc = subprocess.run([sys.executable, "-m", "lotus.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for word in ("run", "train", "book", "list", "examples:", "lotus run --profile tiny"):
        assert word in proc.stdout
    for sub, words in (("run", ("--set", "--profile", "--seeds", "pseudo-methods", "examples:")),
                       ("book", ("--only", "--no-build", "--list")),
                       ("train", ("--force",))):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert all(w in out for w in words), (sub, out)
    rc, out, _ = _run(capsys)  # no command: the help, and a usage error status
    assert rc == 2 and "examples:" in out


def test_list_shows_everything(capsys):
    rc, out, _ = _run(capsys, "list")
    assert rc == 0
    for word in ("digits", "cifar10", "small_cnn", "resnet18", "original", "gold", "tiny", "cpu", "paper",
                 *lotus.list_methods()):
        assert word in out


def test_train_prints_accuracies(capsys):
    rc, out, err = _run(capsys, "train", "--profile", "tiny", "--seeds", "0", "--device", "cpu", "-q")
    assert rc == 0, err
    assert "original" in out and "gold" in out and "acc_test" in out and ".pt" in out


def test_parse_values():
    assert parse_value("1e-3") == pytest.approx(0.001)
    assert parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("true") is True and parse_value("False") is False
    assert parse_value("none") is None
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("{a: 1}") == {"a": 1}
    assert parse_value("gumbel") == "gumbel"
    assert parse_assignments(["epochs=3", "lr=0.1", "targets=gumbel"], "--set") == {
        "epochs": 3, "lr": 0.1, "targets": "gumbel"}
    with pytest.raises(LotusError, match="key=value"):
        parse_assignments(["=3"], "--train")


# ---------------------------------------------------------------------------------------
# lotus book
# ---------------------------------------------------------------------------------------


@pytest.fixture
def book_repo(tmp_path, write_notebook):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    write_notebook(repo / "notebooks" / "01_ok.ipynb",
              'profile = "cpu"\noverrides = {}\noutput_dir = "figures/x"',
              "import json, os\nimport lotus\nch = lotus.book.chapter(profile, '01_ok', output_dir=output_dir, **overrides)\n"
              "os.makedirs(output_dir, exist_ok=True)\n"
              "json.dump({'profile': profile, 'overrides': overrides, 'output_dir': output_dir, 'seeds': ch.seeds,\n"
              "           'dataset': ch['dataset'], 'store': str(ch.store.root), 'force': ch['force'], 'cwd': os.getcwd()},\n"
              "          open(os.path.join(output_dir, 'p.json'), 'w'))")
    write_notebook(repo / "notebooks" / "02_fail.ipynb", "x = 1\nprofile = None", "y = x + 1\nraise ValueError('broken on purpose')")
    write_notebook(repo / "notebooks" / "00_first.ipynb", "z = 1", "z + 1")
    (repo / "notebooks" / "helpers.py").write_text("VALUE = 1\n")
    prof = repo / "mine.yaml"
    prof.write_text("description: test profile\nextends: tiny\n"
                    "settings: {seeds: [0], results_dir: results/runs}\n"
                    "chapters: {01_ok: {seeds: [5]}}\n")
    return repo


def test_book_lists_the_notebooks_in_name_order(book_repo, capsys):
    assert [p.stem for p in list_notebooks(book_repo)] == ["00_first", "01_ok", "02_fail"]
    rc, out, _ = _run(capsys, "book", "--list", "--repo", str(book_repo))
    assert rc == 0 and out.split() == ["00_first", "01_ok", "02_fail"]
    rc, _, err = _run(capsys, "book", "--list", "--repo", str(book_repo / "nowhere"))
    assert rc == 2 and "no notebooks/ folder" in err


def test_notebook_parameters_are_the_profile_and_the_figure_folder(book_repo):
    prof = load_profile(book_repo / "mine.yaml")
    nb = book_repo / "notebooks" / "01_ok.ipynb"
    assert notebook_parameters(prof, nb) == {"profile": str(book_repo / "mine.yaml"), "output_dir": "figures/01_ok"}
    assert notebook_parameters(prof, nb, force=True)["overrides"] == {"force": True}
    assert notebook_parameters(load_profile("tiny"), nb)["profile"] == "tiny"  # a shipped profile goes by name
    assert notebook_parameters(prof, book_repo / "notebooks" / "00_first.ipynb") == {}  # declares none of them


def test_book_executes_with_profile_parameters_and_names_the_failing_cell(book_repo, capsys, caplog):
    with pytest.raises(NotebookError) as exc, caplog.at_level("INFO", logger="lotus"):
        run_book(str(book_repo / "mine.yaml"), repo=book_repo, build=False, keep_going=True)
    msg = str(exc.value)
    assert "02_fail.ipynb" in msg and "cell 1" in msg and "ValueError: broken on purpose" in msg
    assert "raise ValueError" in msg  # the failing cell's source
    out = caplog.text
    assert "01_ok: ok in" in out and "02_fail: FAILED" in out and "00_first: ok" in out
    staged = book_repo / "_build" / "book-src" / "notebooks"
    params = json.loads((staged / "figures" / "01_ok" / "p.json").read_text())
    # the chapter resolved the profile: inherited dataset, its own chapter entry, project-relative store
    assert params["dataset"] == "digits" and params["seeds"] == [5] and params["force"] is False
    assert params["profile"] == str(book_repo / "mine.yaml") and params["overrides"] == {}
    assert Path(params["store"]) == book_repo.resolve() / "results" / "runs"
    assert params["output_dir"] == "figures/01_ok"
    assert Path(params["cwd"]).resolve() == staged.resolve()
    assert (staged / "helpers.py").is_file() and (staged / "02_fail.ipynb").is_file()
    prov = json.loads((book_repo / "_build" / "book-src" / "book-provenance.json").read_text())
    assert prov["profile"] == "mine" and [n["name"] for n in prov["notebooks"]] == ["00_first", "01_ok", "02_fail"]
    # through the CLI: exit status 1 and the same message, without keep-going it stops at the failure
    rc, out, err = _run(capsys, "book", "--profile", str(book_repo / "mine.yaml"), "--repo", str(book_repo),
                        "--only", "02", "--no-build")
    assert rc == 1 and "02_fail.ipynb failed in cell 1" in err and "Traceback" not in err
    rc, _, err = _run(capsys, "book", "--profile", "tiny", "--repo", str(book_repo), "--only", "99", "--no-build")
    assert rc == 2 and "--only '99' matches no notebook" in err


def test_stage_book_copies_config_and_adds_the_footer(book_repo):
    with pytest.raises(LotusError, match="book configuration is missing"):
        stage_book(book_repo, book_repo / "_build" / "book-src", "<p>prov</p>")
    (book_repo / "_config.yml").write_text("title: T\nexecute:\n  execute_notebooks: force\n"
                                           "html:\n  extra_footer: <p>base</p>\n")
    with pytest.raises(LotusError, match="table of contents is missing"):
        stage_book(book_repo, book_repo / "_build" / "book-src", "<p>prov</p>")
    (book_repo / "book").mkdir()
    (book_repo / "book" / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (book_repo / "book" / "intro.md").write_text("# Intro\n")
    (book_repo / "references.bib").write_text("@misc{x, title={x}}\n")
    staging = book_repo / "_build" / "book-src"
    cfg_path = stage_book(book_repo, staging, "<p>prov</p>")
    import yaml

    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["title"] == "T" and cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["html"]["extra_footer"].startswith("<p>base</p>") and "<p>prov</p>" in cfg["html"]["extra_footer"]
    assert (staging / "_toc.yml").read_text().startswith("format: jb-book")
    assert (staging / "book" / "intro.md").is_file() and (staging / "references.bib").is_file()
    # the source config is untouched
    assert "force" in (book_repo / "_config.yml").read_text()


def test_book_build_without_config_is_a_clear_error(book_repo, capsys):
    rc, _, err = _run(capsys, "book", "--profile", "tiny", "--repo", str(book_repo), "--no-execute")
    assert rc == 2 and "book configuration is missing" in err and "Traceback" not in err


def test_every_chapter_takes_profile_overrides_and_output_dir():
    """Each chapter declares exactly the three parameters the runner passes, and every profile's
    chapter entries name an existing chapter."""
    repo = Path(__file__).resolve().parents[1]
    notebooks = {p.stem: p for p in (repo / "notebooks").glob("*.ipynb")}
    for stem, path in notebooks.items():
        assert set(declared_parameters(path)) == {"profile", "overrides", "output_dir"}, stem
    for name in ("tiny", "cpu", "paper"):
        stray = set(load_profile(name)["chapters"]) - set(notebooks)
        assert not stray, f"profile {name}: no chapter {stray}"


def test_profile_settings_and_command_line_overrides():
    from lotus.cli import _settings, build_parser

    def settings(*argv):
        return _settings(build_parser().parse_args(["run", *argv]), methods=True)

    s = settings("--profile", "tiny", "--train", "epochs=3", "--data-root", "/data", "--data", "max_train_per_class=50",
                 "--download")
    assert s["dataset"] == "digits" and s["model"] == "small_cnn" and s["model_kwargs"] == {"width": 16}
    assert s["train"]["epochs"] == 3 and s["train"]["batch_size"] == 64  # the profile's other fields stay
    noise = load_profile("tiny")["settings"]["data"]["noise_std"]
    assert s["data"] == {"noise_std": noise, "image_size": 16, "max_train_per_class": 50, "download": True}
    assert s["data_root"] == "/data"
    # another model or data set: the profile's options for the old one do not carry over
    assert settings("--profile", "tiny", "--model", "resnet18")["model_kwargs"] == {}
    assert settings("--profile", "tiny", "--model", "small_cnn", "--model-arg", "width=8")["model_kwargs"] == {"width": 8}
    assert settings("--profile", "tiny", "--dataset", "cifar10")["data"] == {}
    # unscoped --set is the shared budget, scoped to one method; the profile's values are the base
    from lotus.experiment import configs_from_settings

    s = settings("--profile", "tiny", "--method", "original", "lotus", "finetune", "--set", "epochs=2", "lotus.alpha=4")
    hp = {c.method: c.hparams for c in configs_from_settings(s)}
    prof = load_profile("tiny")["settings"]  # its shared budget and tuned hparams, under the command line's
    own = lambda m: {**prof["unlearn"], **(prof["hparams"].get(m) or {})}  # noqa: E731
    assert hp == {"original": {}, "lotus": {**own("lotus"), "epochs": 2, "alpha": 4},
                  "finetune": {**own("finetune"), "epochs": 2}}
    assert list(hp) == ["original", "finetune", "lotus"]  # the paper's column order
