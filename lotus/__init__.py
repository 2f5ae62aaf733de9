"""LoTUS: Large-scale machine unlearning with a taste of uncertainty (CVPR 2025).

A reference implementation of the LoTUS method, the baselines it was compared with, and the
paper's metrics (MIA, JSD, RF-JSD, Avg Gap).

>>> import lotus
>>> splits = lotus.load_splits("digits", forget=0.1, seed=0)
>>> model = lotus.create_model("small_cnn", splits.num_classes)
"""

from .data import UnlearningSplits, list_datasets, load_splits
from .methods import UnlearnReport, list_methods, unlearn
from .metrics import evaluate
from .models import create_model, list_models
from .utils import VERSION as __version__

__all__ = [
    "__version__",
    "load_splits",
    "list_datasets",
    "UnlearningSplits",
    "create_model",
    "list_models",
    "unlearn",
    "list_methods",
    "UnlearnReport",
    "evaluate",
]

#: submodules loaded on first use (``lotus.book.chapter(...)`` after a plain ``import lotus``),
#: so that ``import lotus`` stays light
_LAZY = ("book", "experiment", "paper", "plots", "profiles", "results", "fixtures", "train", "metrics", "data", "distributed",
         "models", "methods", "utils")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lotus' has no attribute {name!r}")
