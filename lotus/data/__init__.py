"""Data sets and the forget / retain / unseen / test splits of machine unlearning.

One entry point, :func:`load_splits`, turns a data set name, a forget specification and a
seed into an :class:`UnlearningSplits`: the forget set ``D_f``, the retain set ``D_r``, the
unseen set ``D_u`` (called ``val``, as in the paper's code) and a ``test`` set, plus the
class names.

The package has one job per module; each imports only :mod:`lotus.utils` and the modules
listed before it (never models, training or methods):

* :mod:`lotus.data.decode`: decoding image files, listing image folders, the decoded-image
  cache (:func:`decode_cache_dir`, :func:`decode_cache_entries`, :func:`remove_decode_cache`);
* :mod:`lotus.data.splits`: the split containers (:class:`ImageSplit`, :class:`TensorSplit`,
  :class:`FileSplit`, :class:`UnlearningSplits`), augmentation, normalisation constants;
* :mod:`lotus.data.sampling`: the one per-class sampler (:func:`per_class_subset`);
* :mod:`lotus.data.forget`: forget specifications (:func:`parse_forget_spec`,
  :func:`canonical_forget`), the forget / retain split and the val / test halving;
* :mod:`lotus.data.layouts`: the on-disk layouts that are not plain class folders
  (Tiny-ImageNet's, :func:`list_tinyimagenet`) and :func:`sort_cifake`, which sorts CIFAKE's
  synthetic images into class folders for the unseen set;
* :mod:`lotus.data.sources`: the registry of data sources (:func:`register_source`,
  :func:`list_datasets`, :func:`source_info`) and :func:`load_splits`;
* :mod:`lotus.data.torch_datasets`: your own torch ``Dataset`` s as splits
  (:class:`DatasetSplit`, :func:`from_dataset`, :func:`from_datasets`, also reachable as
  ``UnlearningSplits.from_dataset`` / ``UnlearningSplits.from_datasets``).
"""

from .decode import (
    IMAGE_EXTENSIONS,
    DecodeCacheEntry,
    decode_cache_dir,
    decode_cache_entries,
    list_image_folder,
    remove_decode_cache,
)
from .forget import canonical_forget, parse_forget_spec
from .layouts import CIFAR10_CLASSES, CIFAR100_CLASSES, list_tinyimagenet, sort_cifake
from .sampling import fixed_subsample, per_class_subset
from .sources import (
    SourceData,
    SourceInfo,
    data_root,
    list_datasets,
    load_image_folder,
    load_splits,
    register_source,
    source_info,
)
from .splits import (
    CIFAR_MEAN,
    CIFAR_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    FileSplit,
    ImageSplit,
    TensorSplit,
    UnlearningSplits,
    concat_splits,
)
from .torch_datasets import DatasetSplit, dataset_labels, from_dataset, from_datasets

__all__ = [
    "ImageSplit",
    "TensorSplit",
    "FileSplit",
    "DatasetSplit",
    "UnlearningSplits",
    "load_splits",
    "from_dataset",
    "from_datasets",
    "dataset_labels",
    "list_datasets",
    "register_source",
    "source_info",
    "SourceInfo",
    "SourceData",
    "concat_splits",
    "parse_forget_spec",
    "canonical_forget",
    "per_class_subset",
    "fixed_subsample",
    "data_root",
    "load_image_folder",
    "list_image_folder",
    "IMAGE_EXTENSIONS",
    "decode_cache_dir",
    "decode_cache_entries",
    "remove_decode_cache",
    "DecodeCacheEntry",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CIFAR10_CLASSES",
    "CIFAR100_CLASSES",
    "list_tinyimagenet",
    "sort_cifake",
]
