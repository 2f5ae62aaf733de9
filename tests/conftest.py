"""Shared fixtures. Tests run offline on data the project makes or scikit-learn ships;
tests that need ../shared/data are skipped when it is absent."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep checkpoint/decode caches of the test session out of the user's home."""
    if "LOTUS_CACHE_KEEP" not in os.environ:
        os.environ["LOTUS_CACHE"] = str(tmp_path_factory.mktemp("lotus-cache"))
    yield


@pytest.fixture(scope="session")
def digits_splits():
    from lotus.data import load_splits

    return load_splits("digits", forget=0.1, seed=0)


@pytest.fixture(scope="session")
def cifar_root():
    root = Path(os.environ.get("LOTUS_SHARED_DATA", SHARED_DATA))
    if not (root / "cifar10" / "train").is_dir():
        pytest.skip("CIFAR-10 image folders not available in ../shared/data")
    return root


@pytest.fixture(scope="session")
def trained_digits(digits_splits):
    """(original, gold) small CNNs trained on digits (a few seconds on CPU), shared by tests."""
    from lotus.train import TrainRecipe, train_original_and_gold

    recipe = TrainRecipe(epochs=8, batch_size=64, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None, augment=False)
    original, gold = train_original_and_gold(digits_splits, "small_cnn", recipe, seed=0, device="cpu",
                                             model_kwargs={"width": 16})
    return original, gold


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(1)  # fastest for the small models here; also fair under parallel jobs
    yield


@pytest.fixture
def write_notebook():
    """A writer of minimal chapters: ``write(path, params, body, title=None)`` saves a notebook
    with a parameters-tagged cell ``params`` and a code cell ``body``, after a heading cell
    ``# title`` when a title is given."""
    import nbformat

    def write(path: Path, params: str, body: str, title: str | None = None) -> None:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        head = [nbformat.v4.new_markdown_cell(f"# {title}\n\nSome prose.")] if title is not None else []
        nb.cells = [*head, cell, nbformat.v4.new_code_cell(body)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(path))

    return write
