"""The numbers the LoTUS paper and its authors published, as plain Python data.

Every number here is copied from the project's specification (the paper digest, sections 7
and Appendix A), which in turn transcribes three kinds of source; each table records which:

``"cvpr2025"``
    The final CVPR 2025 paper: Table 1 (10 % of Tiny-ImageNet, CIFAR-100, MUFAC), Table 2
    (10 % of CIFAR-10, with and without a synthetic unseen set), Table 3 (50 % forget sets,
    advanced methods) and Table 4 (ImageNet-1k, no gold model).
``"review_supplement"``
    The supplementary material of the review copy: Table 4 (accuracies behind Avg Gap),
    Table 5 (50 % forget sets, basic methods) and Table 6 (Pearson correlation between RF-JSD
    and JSD).
``"notebook"``
    The outputs of the authors' ``notebooks/results.ipynb`` (review-era runs, three seeds):
    a summary block (Avg Gap, time, JSD, RF-JSD) and an accuracy block (MIA, forget, retain
    and test accuracy with the gap to the gold model) for eleven benchmarks. The class-unlearning
    numbers come from ``notebooks/results_class.ipynb`` (``"class_notebook"``) and two extra
    ImageNet columns from ``notebooks/results_imagenet.ipynb`` (``"imagenet_notebook"``).

**Units and scaling** (read this before comparing with our runs):

* ``jsd`` and ``rf_jsd`` are printed **x 1e4** in every table except the class-unlearning
  RF-JSD, which the authors printed unscaled (:data:`SCALES`). They were computed with the
  authors' formula, which reverses the KL arguments and divides by the number of rows (the
  forget-set size for JSD, the number of classes for RF-JSD). The package's textbook values
  are therefore not comparable with them; ``lotus.evaluate(..., legacy=True)`` reproduces the
  authors' formula, and its values times 1e4 are in the published unit (for models and data
  that still differ from the paper's).
* ``time_min`` is wall-clock minutes of the unlearning routine on the authors' hardware (an
  RTX 4080, an RTX A6000 for ImageNet); the package records seconds.
* Accuracies and MIA are fractions in [0, 1] (except the Tiny-ImageNet "Original" row of the
  notebook, which an older code version logged in percent; it is kept as printed).
* ``avg_gap`` is the mean absolute gap to the gold model of MIA, forget, retain and test
  accuracy, computed from seed means rounded to two decimals ("gap of means").
* Every ``*_std`` is the standard deviation over the authors' three seeds.

Method keys follow the package's registry (``lotus.list_methods()``) plus the pseudo-methods
``"original"`` and ``"retrain"`` (the gold standard), and two variants: ``"lotus_cifake"`` (LoTUS
with synthetic CIFAKE images as the unseen set, the package's ``lotus`` method with an ``unseen``
image folder) and ``"salun_lotus"`` (the LoTUS loss with SalUn's saliency mask).
:data:`METHOD_LABELS` gives the paper's names.

>>> from lotus import paper
>>> float(paper.published_table("resnet18-cifar100-10").loc["lotus", "avg_gap"])
0.12
"""

from __future__ import annotations

import math
import re
from typing import Iterable

import pandas as pd

from .utils import LotusError

__all__ = [
    "SOURCES",
    "SCALES",
    "METHOD_LABELS",
    "PAPER_METHODS",
    "KNOWN_DIFFERENCES",
    "list_benchmarks",
    "benchmark_info",
    "published_table",
    "published_accuracies",
    "published_pcc",
    "published_class_unlearning",
    "published_alpha_sweep",
    "published_differences",
    "recompute_avg_gap",
    "recompute_pcc",
    "method_label",
    "format_pm",
    "parse_pm",
    "side_by_side",
    "closest_benchmark",
    "SUPP_TABLE6_SUMMARY",
]

#: the sources of the numbers (the ``source`` / ``table`` values of the returned tables)
SOURCES = {
    "cvpr2025": "final CVPR 2025 paper (open-access PDF), Tables 1-4",
    "review_supplement": "supplementary material of the review copy (CVPR 2025 submission #16551), Tables 4-6",
    "notebook": "authors' notebooks/results.ipynb outputs (review-era runs, 3 seeds), spec Appendix A",
    "class_notebook": "authors' notebooks/results_class.ipynb (ResNet18 class unlearning), spec 7.9",
    "imagenet_notebook": "authors' notebooks/results_imagenet.ipynb (extra ImageNet columns), spec 7.4",
    "tuning_notebook": "authors' notebooks/tuning_results.ipynb (alpha grid search), spec 3.3",
}

#: multiply a package value by this factor to obtain the printed unit (``time_min``: seconds -> minutes)
SCALES = {
    "jsd": 1e4,
    "rf_jsd": 1e4,
    "rf_jsd_class_unlearning": 1.0,
    "time_min": 1.0 / 60.0,
}

#: method key -> the name printed in the paper's tables
METHOD_LABELS = {
    "original": "Original",
    "retrain": "Gold Std",
    "finetune": "Finetuning",
    "neggrad_plus": "NegGrad+",
    "random_labeling": "Rnd Labeling",
    "bad_teacher": "Bad Teacher",
    "scrub": "SCRUB",
    "ssd": "SSD",
    "unsir": "UNSIR",
    "salun": "SalUn",
    "lotus": "LoTUS",
    "lotus_cifake": "LoTUS (synthetic D_u)",
    "salun_lotus": "SalUn (LoTUS loss)",
}

#: the methods of the final paper's Tables 1-2, in the paper's column order
PAPER_METHODS = ("retrain", "finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "ssd",
                 "unsir", "salun", "lotus")

# ---------------------------------------------------------------------------------------------
# Benchmarks. ``model``/``dataset``/``forget`` use the package's names; ``forget_size`` is |D_f|
# of the full-size benchmark (spec 6.1); LoTUS hyper-parameters from spec 3.3.
# ---------------------------------------------------------------------------------------------

_BENCHMARKS = {
    "resnet18-cifar10-10": dict(label="ResNet18 / CIFAR-10 / 10%", model="resnet18", dataset="cifar10", forget="0.1",
                                forget_size=5000, num_classes=10, lotus_alpha=8, lotus_epochs=10, lotus_lr=1e-4),
    "resnet18-cifar100-10": dict(label="ResNet18 / CIFAR-100 / 10%", model="resnet18", dataset="cifar100", forget="0.1",
                                 forget_size=5000, num_classes=100, lotus_alpha=2, lotus_epochs=10, lotus_lr=1e-4),
    "resnet18-mufac": dict(label="ResNet18 / MUFAC", model="resnet18", dataset="mufac", forget="rows:1062",
                           forget_size=1062, num_classes=8, lotus_alpha=2, lotus_epochs=10, lotus_lr=1e-4),
    "resnet18-tinyimagenet-10": dict(label="ResNet18 / Tiny-ImageNet / 10%", model="resnet18", dataset="tinyimagenet",
                                     forget="0.1", forget_size=10000, num_classes=200, lotus_alpha=2, lotus_epochs=10,
                                     lotus_lr=1e-4),
    "vit-cifar10-10": dict(label="ViT / CIFAR-10 / 10%", model="vit_b16", dataset="cifar10", forget="0.1",
                           forget_size=5000, num_classes=10, lotus_alpha=2, lotus_epochs=3, lotus_lr=1e-6),
    "vit-cifar100-10": dict(label="ViT / CIFAR-100 / 10%", model="vit_b16", dataset="cifar100", forget="0.1",
                            forget_size=5000, num_classes=100, lotus_alpha=2, lotus_epochs=3, lotus_lr=1e-6),
    "vit-mufac": dict(label="ViT / MUFAC", model="vit_b16", dataset="mufac", forget="rows:1062",
                      forget_size=1062, num_classes=8, lotus_alpha=2, lotus_epochs=3, lotus_lr=1e-6),
    "vit-tinyimagenet-10": dict(label="ViT / Tiny-ImageNet / 10%", model="vit_b16", dataset="tinyimagenet",
                                forget="0.1", forget_size=10000, num_classes=200, lotus_alpha=2, lotus_epochs=3,
                                lotus_lr=1e-6),
    "resnet18-cifar10-50": dict(label="ResNet18 / CIFAR-10 / 50%", model="resnet18", dataset="cifar10", forget="0.5",
                                forget_size=25000, num_classes=10, lotus_alpha=8, lotus_epochs=10, lotus_lr=1e-4),
    "resnet18-cifar100-50": dict(label="ResNet18 / CIFAR-100 / 50%", model="resnet18", dataset="cifar100",
                                 forget="0.5", forget_size=25000, num_classes=100, lotus_alpha=2, lotus_epochs=10,
                                 lotus_lr=1e-4),
    "vit-cifar10-50": dict(label="ViT / CIFAR-10 / 50%", model="vit_b16", dataset="cifar10", forget="0.5",
                           forget_size=25000, num_classes=10, lotus_alpha=2, lotus_epochs=3, lotus_lr=1e-6),
    "vit-cifar100-50": dict(label="ViT / CIFAR-100 / 50%", model="vit_b16", dataset="cifar100", forget="0.5",
                            forget_size=25000, num_classes=100, lotus_alpha=2, lotus_epochs=3, lotus_lr=1e-6),
    "vit-imagenet1k": dict(label="ViT-B/16 / ImageNet-1k / 5 per class", model="vit_b16", dataset="imagenet1k",
                           forget="count:5", forget_size=5000, num_classes=1000, lotus_alpha=2, lotus_epochs=3,
                           lotus_lr=1e-6),
}

# =============================================================================================
# The numbers. Strings are kept exactly as printed ("mean±std"); the functions below parse them.
# =============================================================================================

# --- Final paper, Tables 1-3 and review supplement Table 5: (avg_gap, jsd x1e4, time_min) -----
_PAPER_TABLE1 = {"vit-tinyimagenet-10": {"retrain": ("0.0000", "0.00±0.00", "228.9±6.49"),
                         "finetune": ("0.0175", "0.05±0.00", "22.64±0.02"),
                         "neggrad_plus": ("0.0400", "0.10±0.00", "25.20±0.02"),
                         "random_labeling": ("0.2925", "0.64±1.03", "25.19±0.02"),
                         "bad_teacher": ("0.0775", "0.18±0.01", "16.91±0.05"),
                         "scrub": ("0.0225", "0.04±0.00", "33.25±0.01"),
                         "ssd": ("0.0225", "0.04±0.00", "27.27±0.06"),
                         "unsir": ("0.0225", "0.06±0.00", "21.17±0.22"),
                         "salun": ("0.0925", "0.25±0.59", "76.97±1.72"),
                         "lotus": ("0.0150", "0.03±0.00", "13.41±0.04")},
 "vit-cifar100-10": {"retrain": ("0.0000", "0.00±0.00", "112.25±0.13"),
                     "finetune": ("0.0275", "0.07±0.00", "11.35±0.00"),
                     "neggrad_plus": ("0.0325", "0.13±0.01", "12.63±0.01"),
                     "random_labeling": ("0.0175", "0.06±0.00", "12.79±0.02"),
                     "bad_teacher": ("0.0375", "0.17±0.01", "9.18±0.27"),
                     "scrub": ("0.0200", "0.04±0.00", "16.74±0.03"),
                     "ssd": ("0.0175", "0.04±0.00", "13.67±0.02"),
                     "unsir": ("0.0250", "0.08±0.01", "10.69±0.01"),
                     "salun": ("0.0200", "0.06±0.01", "38.15±0.04"),
                     "lotus": ("0.0125", "0.04±0.02", "7.02±0.01")},
 "vit-mufac": {"retrain": ("0.0000", "0.00±0.00", "13.83±0.01"),
               "finetune": ("0.0400", "0.27±0.02", "1.40±0.01"),
               "neggrad_plus": ("0.0475", "0.39±0.04", "1.67±0.00"),
               "random_labeling": ("0.0200", "0.35±0.09", "1.76±0.01"),
               "bad_teacher": ("0.1750", "1.89±1.01", "2.09±0.25"),
               "scrub": ("0.0200", "0.05±0.02", "2.21±0.01"),
               "ssd": ("0.0200", "0.17±0.17", "1.91±0.00"),
               "unsir": ("0.0475", "0.85±0.06", "3.21±0.01"),
               "salun": ("0.0200", "0.29±0.01", "8.15±0.01"),
               "lotus": ("0.0200", "0.05±0.01", "1.09±0.00")},
 "resnet18-tinyimagenet-10": {"retrain": ("0.0000", "0.00±0.00", "46.81±0.57"),
                              "finetune": ("0.2200", "1.80±0.04", "2.85±0.00"),
                              "neggrad_plus": ("0.2250", "1.82±0.07", "3.17±0.00"),
                              "random_labeling": ("0.1925", "1.71±0.11", "3.44±0.01"),
                              "bad_teacher": ("0.2850", "1.81±0.04", "1.91±0.01"),
                              "scrub": ("0.2725", "0.98±0.00", "3.97±0.00"),
                              "ssd": ("0.2700", "0.96±0.02", "3.47±0.00"),
                              "unsir": ("0.2375", "1.76±0.05", "5.00±0.01"),
                              "salun": ("0.2025", "1.93±0.09", "6.06±0.06"),
                              "lotus": ("0.1675", "0.62±0.01", "1.62±0.00")},
 "resnet18-cifar100-10": {"retrain": ("0.0000", "0.00±0.00", "3.39±0.30"),
                          "finetune": ("0.3600", "6.88±0.59", "0.43±0.00"),
                          "neggrad_plus": ("0.3575", "6.87±0.62", "0.49±0.00"),
                          "random_labeling": ("0.4025", "5.84±0.98", "0.57±0.00"),
                          "bad_teacher": ("0.3675", "4.30±0.49", "0.34±0.01"),
                          "scrub": ("0.1650", "1.87±0.08", "0.58±0.00"),
                          "ssd": ("0.2125", "3.04±1.55", "0.54±0.00"),
                          "unsir": ("0.3625", "3.05±0.32", "0.45±0.00"),
                          "salun": ("0.3650", "6.50±0.60", "1.55±0.01"),
                          "lotus": ("0.1200", "1.67±0.37", "0.30±0.01")},
 "resnet18-mufac": {"retrain": ("0.0000", "0.00±0.00", "7.34±0.77"),
                    "finetune": ("0.1525", "19.52±6.23", "0.76±0.00"),
                    "neggrad_plus": ("0.1550", "19.16±5.31", "0.91±0.00"),
                    "random_labeling": ("0.1300", "9.51±2.39", "1.06±0.00"),
                    "bad_teacher": ("0.1025", "9.41±0.04", "0.66±0.00"),
                    "scrub": ("0.1625", "10.53±2.31", "1.20±0.00"),
                    "ssd": ("0.1600", "10.30±2.28", "1.07±0.00"),
                    "unsir": ("0.1450", "16.32±4.82", "1.68±0.02"),
                    "salun": ("0.1400", "15.25±5.20", "2.72±0.02"),
                    "lotus": ("0.1250", "6.90±1.49", "0.62±0.00")}}
_PAPER_TABLE2 = {"vit-cifar10-10": {"retrain": ("0.0000", "0.00±0.00", "111.00±1.99"),
                    "finetune": ("0.0075", "0.01±0.00", "11.33±0.03"),
                    "neggrad_plus": ("0.0125", "0.03±0.00", "12.61±0.03"),
                    "random_labeling": ("0.0125", "0.02±0.01", "12.78±0.01"),
                    "bad_teacher": ("0.0375", "0.12±0.03", "8.97±0.02"),
                    "scrub": ("0.0050", "0.01±0.00", "16.66±0.02"),
                    "ssd": ("0.0075", "0.02±0.01", "13.65±0.02"),
                    "unsir": ("0.0100", "0.01±0.01", "10.68±0.02"),
                    "salun": ("0.0125", "0.01±0.01", "37.97±0.19"),
                    "lotus": ("0.0050", "0.01±0.00", "7.34±0.19"),
                    "lotus_cifake": ("0.0075", "0.01±0.00", "7.25±0.06")},
 "resnet18-cifar10-10": {"retrain": ("0.0000", "0.00±0.00", "5.32±1.18"),
                         "finetune": ("0.1375", "1.03±0.24", "0.43±0.00"),
                         "neggrad_plus": ("0.0975", "1.06±0.21", "0.49±0.00"),
                         "random_labeling": ("0.0925", "1.00±0.26", "0.57±0.00"),
                         "bad_teacher": ("0.2650", "2.39±2.03", "0.33±0.00"),
                         "scrub": ("0.0750", "0.41±0.09", "0.58±0.00"),
                         "ssd": ("0.0825", "0.82±0.57", "0.54±0.00"),
                         "unsir": ("0.1075", "0.65±0.05", "0.45±0.00"),
                         "salun": ("0.1800", "1.09±0.05", "1.56±0.01"),
                         "lotus": ("0.0350", "0.32±0.04", "0.29±0.00"),
                         "lotus_cifake": ("0.0300", "0.32±0.03", "0.30±0.01")}}
_PAPER_TABLE3 = {"vit-cifar100-50": {"bad_teacher": ("0.0575", "0.06±0.01", "15.04±0.03"),
                     "scrub": ("0.0350", "0.01±0.00", "16.82±0.03"),
                     "ssd": ("0.0350", "0.01±0.00", "18.69±0.06"),
                     "unsir": ("0.0375", "0.02±0.00", "18.33±0.02"),
                     "salun": ("0.0375", "0.10±0.01", "38.08±0.02"),
                     "lotus": ("0.0225", "0.01±0.00", "13.79±0.02")},
 "vit-cifar10-50": {"bad_teacher": ("0.0600", "0.04±0.01", "15.10±0.20"),
                    "scrub": ("0.0125", "0.00±0.00", "16.99±0.35"),
                    "ssd": ("0.0150", "0.00±0.00", "19.03±0.54"),
                    "unsir": ("0.0150", "0.00±0.00", "18.33±0.02"),
                    "salun": ("0.0050", "0.02±0.00", "37.93±0.18"),
                    "lotus": ("0.0050", "0.00±0.00", "14.09±0.53")},
 "resnet18-cifar100-50": {"bad_teacher": ("0.3050", "0.55±0.04", "0.58±0.01"),
                          "scrub": ("0.2225", "0.44±0.02", "0.62±0.00"),
                          "ssd": ("0.2225", "0.44±0.02", "1.29±0.03"),
                          "unsir": ("0.2925", "0.65±0.23", "0.72±0.01"),
                          "salun": ("0.3300", "6.25±0.45", "1.49±0.01"),
                          "lotus": ("0.1725", "0.28±0.00", "0.57±0.01")},
 "resnet18-cifar10-50": {"bad_teacher": ("0.0625", "0.18±0.02", "0.57±0.02"),
                         "scrub": ("0.1075", "0.14±0.00", "0.61±0.02"),
                         "ssd": ("0.1025", "0.13±0.00", "1.27±0.02"),
                         "unsir": ("0.1025", "0.21±0.05", "0.73±0.00"),
                         "salun": ("0.1300", "1.40±0.02", "1.49±0.01"),
                         "lotus": ("0.0650", "0.09±0.01", "0.57±0.00")}}
_SUPP_TABLE5 = {"vit-cifar100-50": {"finetune": ("0.0400", "0.02±0.00", "6.34±0.01"),
                     "neggrad_plus": ("0.0600", "0.03±0.01", "12.68±0.02"),
                     "random_labeling": ("0.0250", "0.01±0.01", "12.63±0.02"),
                     "lotus": ("0.0225", "0.01±0.00", "13.79±0.02")},
 "vit-cifar10-50": {"finetune": ("0.0125", "0.00±0.00", "6.48±0.27"),
                    "neggrad_plus": ("0.0200", "0.01±0.00", "12.97±0.50"),
                    "random_labeling": ("0.0050", "0.00±0.00", "12.60±0.03"),
                    "lotus": ("0.0050", "0.00±0.00", "14.09±0.53")},
 "resnet18-cifar100-50": {"finetune": ("0.3200", "1.39±0.10", "0.26±0.01"),
                          "neggrad_plus": ("0.3150", "1.38±0.08", "0.52±0.00"),
                          "random_labeling": ("0.3875", "1.03±0.23", "0.48±0.00"),
                          "lotus": ("0.1725", "0.28±0.00", "0.57±0.01")},
 "resnet18-cifar10-50": {"finetune": ("0.1100", "0.31±0.00", "0.26±0.01"),
                         "neggrad_plus": ("0.1475", "0.31±0.01", "0.51±0.02"),
                         "random_labeling": ("0.2100", "0.73±0.22", "0.48±0.00"),
                         "lotus": ("0.0650", "0.09±0.01", "0.57±0.00")}}

# --- notebooks/results.ipynb summary block: (avg_gap, time_min, jsd x1e4, rf_jsd x1e4) ---------
_NOTEBOOK_SUMMARY = {"resnet18-cifar10-10": {"retrain": ("0.0000", "5.32 ± 1.18", "0.00 ± 0.00", "5.97 ± 4.69"),
                         "finetune": ("0.1375", "0.43 ± 0.00", "1.03 ± 0.24", "81.45 ± 6.53"),
                         "neggrad_plus": ("0.0975", "0.49 ± 0.00", "1.06 ± 0.21", "80.64 ± 21.01"),
                         "random_labeling": ("0.0925", "0.57 ± 0.00", "1.00 ± 0.26", "47.98 ± 3.43"),
                         "bad_teacher": ("0.2650", "0.33 ± 0.00", "2.39 ± 2.03", "287.45 ± 157.93"),
                         "scrub": ("0.0750", "0.58 ± 0.00", "0.41 ± 0.09", "62.39 ± 5.54"),
                         "ssd": ("0.0825", "0.54 ± 0.00", "0.82 ± 0.57", "145.86 ± 152.88"),
                         "unsir": ("0.1075", "0.45 ± 0.00", "0.65 ± 0.05", "17.29 ± 4.21"),
                         "lotus": ("0.0375", "0.29 ± 0.00", "0.30 ± 0.04", "15.75 ± 2.24"),
                         "lotus_cifake": ("0.0300", "0.30 ± 0.01", "0.32 ± 0.03", "12.46 ± 1.31")},
 "resnet18-cifar100-10": {"retrain": ("0.0000", "3.39 ± 0.30", "0.00 ± 0.00", "16.34 ± 1.58"),
                          "finetune": ("0.3600", "0.43 ± 0.00", "6.88 ± 0.59", "101.26 ± 19.61"),
                          "neggrad_plus": ("0.3575", "0.49 ± 0.00", "6.87 ± 0.62", "101.75 ± 19.85"),
                          "random_labeling": ("0.4025", "0.57 ± 0.00", "5.84 ± 0.98", "74.93 ± 20.53"),
                          "bad_teacher": ("0.3675", "0.34 ± 0.01", "4.30 ± 0.49", "63.04 ± 8.91"),
                          "scrub": ("0.1650", "0.58 ± 0.00", "1.87 ± 0.08", "18.79 ± 1.96"),
                          "ssd": ("0.2125", "0.54 ± 0.00", "3.04 ± 1.55", "42.17 ± 36.59"),
                          "unsir": ("0.3625", "0.45 ± 0.00", "3.05 ± 0.32", "40.02 ± 8.51"),
                          "lotus": ("0.1025", "0.30 ± 0.01", "1.29 ± 0.03", "8.35 ± 0.19")},
 "resnet18-mufac": {"retrain": ("0.0000", "7.34 ± 0.77", "0.00 ± 0.00", "199.05 ± 93.15"),
                    "finetune": ("0.1525", "0.76 ± 0.00", "19.52 ± 6.23", "1439.18 ± 233.65"),
                    "neggrad_plus": ("0.1550", "0.91 ± 0.00", "19.16 ± 5.31", "1546.01 ± 156.39"),
                    "random_labeling": ("0.1300", "1.06 ± 0.00", "9.51 ± 2.39", "444.89 ± 73.01"),
                    "bad_teacher": ("0.1025", "0.66 ± 0.00", "9.41 ± 0.04", "489.70 ± 12.30"),
                    "scrub": ("0.1625", "1.20 ± 0.00", "10.53 ± 2.31", "254.92 ± 131.48"),
                    "ssd": ("0.1600", "1.07 ± 0.00", "10.30 ± 2.28", "243.30 ± 142.87"),
                    "unsir": ("0.1450", "1.68 ± 0.02", "16.32 ± 4.82", "988.15 ± 120.39"),
                    "lotus": ("0.1250", "0.62 ± 0.00", "6.90 ± 1.49", "133.11 ± 45.89")},
 "resnet18-tinyimagenet-10": {"retrain": ("0.0000", "46.81 ± 0.57", "0.00 ± 0.00", "5.39 ± 0.16"),
                              "finetune": ("0.2200", "2.85 ± 0.00", "1.80 ± 0.04", "24.49 ± 1.61"),
                              "neggrad_plus": ("0.2250", "3.17 ± 0.00", "1.82 ± 0.07", "25.39 ± 1.84"),
                              "random_labeling": ("0.1925", "3.44 ± 0.01", "1.71 ± 0.11", "21.73 ± 2.66"),
                              "bad_teacher": ("0.2850", "1.91 ± 0.01", "1.81 ± 0.04", "19.91 ± 2.30"),
                              "scrub": ("0.2725", "3.97 ± 0.00", "0.98 ± 0.00", "22.60 ± 0.22"),
                              "ssd": ("0.2700", "3.47 ± 0.00", "0.96 ± 0.02", "22.03 ± 1.28"),
                              "unsir": ("0.2375", "5.00 ± 0.01", "1.76 ± 0.05", "22.23 ± 0.82"),
                              "lotus": ("0.1675", "1.62 ± 0.00", "0.62 ± 0.01", "5.45 ± 0.16"),
                              "salun": ("0.2025", "6.06 ± 0.06", "1.93 ± 0.09", "32.16 ± 3.87"),
                              "salun_lotus": ("0.1250", "4.26 ± 0.05", "0.55 ± 0.00", "4.98 ± 0.07")},
 "vit-cifar10-10": {"retrain": ("0.0000", "111.00 ± 1.99", "0.00 ± 0.00", "1.66 ± 0.37"),
                    "finetune": ("0.0075", "11.33 ± 0.03", "0.01 ± 0.00", "3.26 ± 0.68"),
                    "neggrad_plus": ("0.0125", "12.61 ± 0.03", "0.03 ± 0.00", "6.12 ± 0.25"),
                    "random_labeling": ("0.0125", "12.78 ± 0.01", "0.02 ± 0.01", "2.11 ± 0.51"),
                    "bad_teacher": ("0.0375", "8.79 ± 0.02", "0.12 ± 0.03", "9.21 ± 3.18"),
                    "scrub": ("0.0050", "16.66 ± 0.02", "0.01 ± 0.00", "2.81 ± 0.20"),
                    "ssd": ("0.0075", "13.65 ± 0.02", "0.02 ± 0.01", "2.69 ± 0.22"),
                    "unsir": ("0.0100", "10.68 ± 0.02", "0.01 ± 0.01", "2.41 ± 0.66"),
                    "lotus": ("0.0050", "7.34 ± 0.25", "0.01 ± 0.00", "2.08 ± 0.29"),
                    "lotus_cifake": ("0.0075", "7.25 ± 0.06", "0.01 ± 0.00", "1.96 ± 0.28")},
 "vit-cifar100-10": {"retrain": ("0.0000", "112.25 ± 0.13", "0.00 ± 0.00", "2.58 ± 0.08"),
                     "finetune": ("0.0275", "11.35 ± 0.00", "0.07 ± 0.00", "3.12 ± 0.17"),
                     "neggrad_plus": ("0.0325", "12.63 ± 0.01", "0.13 ± 0.01", "3.37 ± 0.12"),
                     "random_labeling": ("0.0175", "12.79 ± 0.02", "0.06 ± 0.00", "2.74 ± 0.17"),
                     "bad_teacher": ("0.0375", "9.18 ± 0.27", "0.17 ± 0.01", "3.80 ± 0.22"),
                     "scrub": ("0.0200", "16.74 ± 0.03", "0.04 ± 0.00", "2.04 ± 0.09"),
                     "ssd": ("0.0175", "13.67 ± 0.02", "0.04 ± 0.00", "2.08 ± 0.13"),
                     "unsir": ("0.0250", "10.69 ± 0.01", "0.08 ± 0.01", "3.11 ± 0.19"),
                     "lotus": ("0.0125", "7.02 ± 0.01", "0.03 ± 0.00", "1.89 ± 0.07")},
 "vit-mufac": {"retrain": ("0.0000", "13.83 ± 0.01", "0.00 ± 0.00", "12.89 ± 0.10"),
               "finetune": ("0.0400", "1.40 ± 0.01", "0.27 ± 0.02", "18.46 ± 6.75"),
               "neggrad_plus": ("0.0475", "1.67 ± 0.00", "0.39 ± 0.04", "20.68 ± 6.78"),
               "random_labeling": ("0.0200", "1.76 ± 0.01", "0.35 ± 0.09", "22.58 ± 3.92"),
               "bad_teacher": ("0.1750", "2.09 ± 0.25", "1.89 ± 1.01", "201.41 ± 191.09"),
               "scrub": ("0.0200", "2.21 ± 0.01", "0.05 ± 0.02", "8.27 ± 0.60"),
               "ssd": ("0.0200", "1.91 ± 0.00", "0.17 ± 0.17", "14.89 ± 9.32"),
               "unsir": ("0.0475", "3.21 ± 0.01", "0.85 ± 0.06", "23.52 ± 8.34"),
               "lotus": ("0.0200", "1.09 ± 0.00", "0.05 ± 0.01", "10.11 ± 0.54")},
 "resnet18-cifar10-50": {"retrain": ("0.0000", "2.52 ± 0.26", "0.00 ± 0.00", "14.50 ± 0.31"),
                         "finetune": ("0.1100", "0.26 ± 0.01", "0.31 ± 0.00", "34.78 ± 7.45"),
                         "neggrad_plus": ("0.1475", "0.51 ± 0.02", "0.31 ± 0.01", "32.29 ± 4.88"),
                         "random_labeling": ("0.2100", "0.48 ± 0.00", "0.73 ± 0.22", "525.89 ± 202.57"),
                         "bad_teacher": ("0.0625", "0.57 ± 0.02", "0.18 ± 0.02", "13.22 ± 3.10"),
                         "scrub": ("0.1075", "0.61 ± 0.02", "0.14 ± 0.00", "56.79 ± 4.83"),
                         "ssd": ("0.1025", "1.27 ± 0.02", "0.13 ± 0.00", "42.11 ± 6.47"),
                         "unsir": ("0.1025", "0.73 ± 0.00", "0.21 ± 0.05", "14.82 ± 4.96"),
                         "lotus": ("0.0650", "0.57 ± 0.00", "0.09 ± 0.01", "11.15 ± 1.41")},
 "resnet18-cifar100-50": {"retrain": ("0.0000", "1.94 ± 0.06", "0.00 ± 0.00", "11.85 ± 0.36"),
                          "finetune": ("0.3200", "0.26 ± 0.01", "1.39 ± 0.10", "70.78 ± 16.60"),
                          "neggrad_plus": ("0.3150", "0.52 ± 0.00", "1.38 ± 0.08", "70.30 ± 15.65"),
                          "random_labeling": ("0.3875", "0.48 ± 0.00", "1.03 ± 0.23", "72.42 ± 28.15"),
                          "bad_teacher": ("0.3050", "0.58 ± 0.01", "0.55 ± 0.04", "49.23 ± 5.14"),
                          "scrub": ("0.2225", "0.62 ± 0.00", "0.44 ± 0.02", "15.02 ± 2.15"),
                          "ssd": ("0.2225", "1.29 ± 0.03", "0.44 ± 0.02", "15.06 ± 2.17"),
                          "unsir": ("0.2925", "0.72 ± 0.01", "0.65 ± 0.23", "33.83 ± 3.26"),
                          "lotus": ("0.1725", "0.57 ± 0.01", "0.28 ± 0.00", "7.66 ± 0.26")},
 "vit-cifar10-50": {"retrain": ("0.0000", "64.09 ± 2.60", "0.00 ± 0.00", "1.19 ± 0.24"),
                    "finetune": ("0.0125", "6.48 ± 0.27", "0.00 ± 0.00", "1.83 ± 0.12"),
                    "neggrad_plus": ("0.0200", "12.97 ± 0.50", "0.01 ± 0.00", "5.67 ± 0.56"),
                    "random_labeling": ("0.0050", "12.60 ± 0.03", "0.00 ± 0.00", "1.46 ± 0.10"),
                    "bad_teacher": ("0.0600", "15.10 ± 0.20", "0.04 ± 0.01", "28.75 ± 4.47"),
                    "scrub": ("0.0125", "16.99 ± 0.35", "0.00 ± 0.00", "2.40 ± 0.21"),
                    "ssd": ("0.0150", "19.03 ± 0.54", "0.00 ± 0.00", "2.38 ± 0.25"),
                    "unsir": ("0.0150", "18.33 ± 0.02", "0.00 ± 0.00", "1.31 ± 0.16"),
                    "lotus": ("0.0050", "14.09 ± 0.53", "0.00 ± 0.00", "1.18 ± 0.17")},
 "vit-cifar100-50": {"retrain": ("0.0000", "62.71 ± 0.11", "0.00 ± 0.00", "1.93 ± 0.09"),
                     "finetune": ("0.0400", "6.34 ± 0.01", "0.02 ± 0.00", "1.90 ± 0.08"),
                     "neggrad_plus": ("0.0600", "12.68 ± 0.02", "0.03 ± 0.01", "2.96 ± 0.19"),
                     "random_labeling": ("0.0250", "12.62 ± 0.02", "0.01 ± 0.01", "1.60 ± 0.08"),
                     "bad_teacher": ("0.0575", "15.04 ± 0.03", "0.06 ± 0.01", "4.63 ± 0.32"),
                     "scrub": ("0.0350", "16.82 ± 0.03", "0.01 ± 0.00", "1.54 ± 0.06"),
                     "ssd": ("0.0350", "18.69 ± 0.06", "0.01 ± 0.00", "1.53 ± 0.07"),
                     "unsir": ("0.0375", "18.33 ± 0.02", "0.02 ± 0.00", "2.07 ± 0.12"),
                     "lotus": ("0.0225", "13.79 ± 0.02", "0.01 ± 0.00", "1.44 ± 0.10")}}

# --- notebooks/results.ipynb accuracy block: (mia, acc_forget, acc_retain, acc_test, avg_gap),
# each "mean ± std (|gap to gold|)" --------------------------------------------------------------
_NOTEBOOK_ACCURACY = {"resnet18-cifar10-10": {"original": ("0.94 ± 0.00", "1.00 ± 0.00", "1.00 ± 0.00", "0.93 ± 0.01", "—"),
                         "retrain": ("0.76 ± 0.03 (0.00)",
                                     "0.91 ± 0.02 (0.00)",
                                     "0.99 ± 0.02 (0.00)",
                                     "0.91 ± 0.02 (0.00)",
                                     "0.0000"),
                         "finetune": ("0.30 ± 0.26 (0.46)",
                                      "0.97 ± 0.01 (0.06)",
                                      "0.98 ± 0.01 (0.01)",
                                      "0.89 ± 0.02 (0.02)",
                                      "0.1375"),
                         "neggrad_plus": ("0.48 ± 0.50 (0.28)",
                                          "0.97 ± 0.01 (0.06)",
                                          "0.97 ± 0.01 (0.02)",
                                          "0.88 ± 0.02 (0.03)",
                                          "0.0975"),
                         "random_labeling": ("0.48 ± 0.50 (0.28)",
                                             "0.96 ± 0.01 (0.05)",
                                             "0.97 ± 0.01 (0.02)",
                                             "0.89 ± 0.02 (0.02)",
                                             "0.0925"),
                         "bad_teacher": ("0.43 ± 0.37 (0.33)",
                                         "0.71 ± 0.18 (0.20)",
                                         "0.71 ± 0.18 (0.28)",
                                         "0.66 ± 0.16 (0.25)",
                                         "0.2650"),
                         "scrub": ("0.94 ± 0.01 (0.18)",
                                   "1.00 ± 0.00 (0.09)",
                                   "1.00 ± 0.00 (0.01)",
                                   "0.93 ± 0.01 (0.02)",
                                   "0.0750"),
                         "ssd": ("0.81 ± 0.11 (0.05)",
                                 "0.86 ± 0.16 (0.05)",
                                 "0.87 ± 0.16 (0.12)",
                                 "0.80 ± 0.15 (0.11)",
                                 "0.0825"),
                         "unsir": ("0.46 ± 0.03 (0.30)",
                                   "0.93 ± 0.01 (0.02)",
                                   "0.93 ± 0.01 (0.06)",
                                   "0.86 ± 0.01 (0.05)",
                                   "0.1075"),
                         "lotus": ("0.83 ± 0.01 (0.07)",
                                   "0.99 ± 0.01 (0.08)",
                                   "0.99 ± 0.00 (0.00)",
                                   "0.91 ± 0.01 (0.00)",
                                   "0.0375"),
                         "lotus_cifake": ("0.72 ± 0.02 (0.04)",
                                          "0.99 ± 0.00 (0.08)",
                                          "0.99 ± 0.00 (0.00)",
                                          "0.91 ± 0.01 (0.00)",
                                          "0.0300")},
 "resnet18-cifar100-10": {"original": ("0.77 ± 0.05", "0.93 ± 0.04", "0.93 ± 0.03", "0.60 ± 0.02", "—"),
                          "retrain": ("0.49 ± 0.01 (0.00)",
                                      "0.57 ± 0.02 (0.00)",
                                      "0.94 ± 0.03 (0.00)",
                                      "0.60 ± 0.02 (0.00)",
                                      "0.0000"),
                          "finetune": ("0.00 ± 0.00 (0.49)",
                                       "0.40 ± 0.06 (0.17)",
                                       "0.41 ± 0.06 (0.53)",
                                       "0.35 ± 0.05 (0.25)",
                                       "0.3600"),
                          "neggrad_plus": ("0.00 ± 0.00 (0.49)",
                                           "0.41 ± 0.06 (0.16)",
                                           "0.41 ± 0.06 (0.53)",
                                           "0.35 ± 0.05 (0.25)",
                                           "0.3575"),
                          "random_labeling": ("0.00 ± 0.00 (0.49)",
                                              "0.31 ± 0.06 (0.26)",
                                              "0.37 ± 0.07 (0.57)",
                                              "0.31 ± 0.06 (0.29)",
                                              "0.4025"),
                          "bad_teacher": ("0.33 ± 0.58 (0.16)",
                                          "0.27 ± 0.03 (0.30)",
                                          "0.28 ± 0.03 (0.66)",
                                          "0.25 ± 0.03 (0.35)",
                                          "0.3675"),
                          "scrub": ("0.78 ± 0.05 (0.29)",
                                    "0.93 ± 0.03 (0.36)",
                                    "0.93 ± 0.03 (0.01)",
                                    "0.60 ± 0.02 (0.00)",
                                    "0.1650"),
                          "ssd": ("0.59 ± 0.05 (0.10)",
                                  "0.50 ± 0.32 (0.07)",
                                  "0.50 ± 0.32 (0.44)",
                                  "0.36 ± 0.20 (0.24)",
                                  "0.2125"),
                          "unsir": ("0.00 ± 0.00 (0.49)",
                                    "0.40 ± 0.07 (0.17)",
                                    "0.41 ± 0.07 (0.53)",
                                    "0.34 ± 0.04 (0.26)",
                                    "0.3625"),
                          "lotus": ("0.55 ± 0.01 (0.06)",
                                    "0.89 ± 0.04 (0.32)",
                                    "0.93 ± 0.03 (0.01)",
                                    "0.62 ± 0.01 (0.02)",
                                    "0.1025")},
 "resnet18-mufac": {"original": ("0.70 ± 0.06", "0.88 ± 0.04", "0.89 ± 0.04", "0.54 ± 0.03", "—"),
                    "retrain": ("0.48 ± 0.04 (0.00)", "0.47 ± 0.04 (0.00)", "0.89 ± 0.04 (0.00)", "0.56 ± 0.02 (0.00)", "0.0000"),
                    "finetune": ("0.54 ± 0.09 (0.06)",
                                 "0.64 ± 0.04 (0.17)",
                                 "0.64 ± 0.04 (0.25)",
                                 "0.43 ± 0.01 (0.13)",
                                 "0.1525"),
                    "neggrad_plus": ("0.53 ± 0.08 (0.05)",
                                     "0.68 ± 0.04 (0.21)",
                                     "0.66 ± 0.03 (0.23)",
                                     "0.43 ± 0.01 (0.13)",
                                     "0.1550"),
                    "random_labeling": ("0.33 ± 0.31 (0.15)",
                                        "0.66 ± 0.04 (0.19)",
                                        "0.80 ± 0.03 (0.09)",
                                        "0.47 ± 0.02 (0.09)",
                                        "0.1300"),
                    "bad_teacher": ("0.34 ± 0.01 (0.14)",
                                    "0.53 ± 0.07 (0.06)",
                                    "0.76 ± 0.04 (0.13)",
                                    "0.48 ± 0.03 (0.08)",
                                    "0.1025"),
                    "scrub": ("0.70 ± 0.05 (0.22)", "0.88 ± 0.06 (0.41)", "0.89 ± 0.04 (0.00)", "0.54 ± 0.03 (0.02)", "0.1625"),
                    "ssd": ("0.70 ± 0.06 (0.22)", "0.87 ± 0.06 (0.40)", "0.89 ± 0.05 (0.00)", "0.54 ± 0.03 (0.02)", "0.1600"),
                    "unsir": ("0.40 ± 0.35 (0.08)", "0.71 ± 0.03 (0.24)", "0.73 ± 0.03 (0.16)", "0.46 ± 0.01 (0.10)", "0.1450"),
                    "lotus": ("0.53 ± 0.04 (0.05)", "0.86 ± 0.04 (0.39)", "0.85 ± 0.08 (0.04)", "0.54 ± 0.05 (0.02)", "0.1250")},
 "resnet18-tinyimagenet-10": {"original": ("95.37 ± 0.27", "99.99 ± 0.02", "99.98 ± 0.01", "60.41 ± 0.62", "—"),
                              "retrain": ("0.30 ± 0.01 (0.00)",
                                          "0.58 ± 0.00 (0.00)",
                                          "1.00 ± 0.00 (0.00)",
                                          "0.59 ± 0.01 (0.00)",
                                          "0.0000"),
                              "finetune": ("0.00 ± 0.00 (0.30)",
                                           "0.70 ± 0.02 (0.12)",
                                           "0.73 ± 0.02 (0.27)",
                                           "0.40 ± 0.01 (0.19)",
                                           "0.2200"),
                              "neggrad_plus": ("0.00 ± 0.00 (0.30)",
                                               "0.73 ± 0.02 (0.15)",
                                               "0.73 ± 0.02 (0.27)",
                                               "0.41 ± 0.01 (0.18)",
                                               "0.2250"),
                              "random_labeling": ("0.00 ± 0.00 (0.30)",
                                                  "0.56 ± 0.02 (0.02)",
                                                  "0.73 ± 0.02 (0.27)",
                                                  "0.41 ± 0.02 (0.18)",
                                                  "0.1925"),
                              "bad_teacher": ("0.67 ± 0.58 (0.37)",
                                              "0.49 ± 0.04 (0.09)",
                                              "0.55 ± 0.04 (0.45)",
                                              "0.36 ± 0.03 (0.23)",
                                              "0.2850"),
                              "scrub": ("0.96 ± 0.01 (0.66)",
                                        "1.00 ± 0.00 (0.42)",
                                        "1.00 ± 0.00 (0.00)",
                                        "0.60 ± 0.01 (0.01)",
                                        "0.2725"),
                              "ssd": ("0.95 ± 0.01 (0.65)",
                                      "1.00 ± 0.00 (0.42)",
                                      "1.00 ± 0.00 (0.00)",
                                      "0.60 ± 0.00 (0.01)",
                                      "0.2700"),
                              "unsir": ("0.67 ± 0.58 (0.37)",
                                        "0.68 ± 0.03 (0.10)",
                                        "0.71 ± 0.02 (0.29)",
                                        "0.40 ± 0.02 (0.19)",
                                        "0.2375"),
                              "lotus": ("0.53 ± 0.01 (0.23)",
                                        "0.91 ± 0.01 (0.33)",
                                        "0.93 ± 0.01 (0.07)",
                                        "0.55 ± 0.00 (0.04)",
                                        "0.1675")},
 "vit-cifar10-10": {"original": ("0.88 ± 0.00", "1.00 ± 0.00", "1.00 ± 0.00", "0.99 ± 0.01", "—"),
                    "retrain": ("0.88 ± 0.01 (0.00)", "0.99 ± 0.00 (0.00)", "1.00 ± 0.00 (0.00)", "0.98 ± 0.01 (0.00)", "0.0000"),
                    "finetune": ("0.90 ± 0.00 (0.02)",
                                 "0.99 ± 0.00 (0.00)",
                                 "1.00 ± 0.00 (0.00)",
                                 "0.99 ± 0.00 (0.01)",
                                 "0.0075"),
                    "neggrad_plus": ("0.91 ± 0.00 (0.03)",
                                     "1.00 ± 0.00 (0.01)",
                                     "1.00 ± 0.00 (0.00)",
                                     "0.99 ± 0.01 (0.01)",
                                     "0.0125"),
                    "random_labeling": ("0.84 ± 0.02 (0.04)",
                                        "0.99 ± 0.00 (0.00)",
                                        "1.00 ± 0.00 (0.00)",
                                        "0.99 ± 0.01 (0.01)",
                                        "0.0125"),
                    "bad_teacher": ("0.81 ± 0.02 (0.07)",
                                    "0.96 ± 0.01 (0.03)",
                                    "0.97 ± 0.01 (0.03)",
                                    "0.96 ± 0.01 (0.02)",
                                    "0.0375"),
                    "scrub": ("0.88 ± 0.00 (0.00)", "1.00 ± 0.00 (0.01)", "1.00 ± 0.00 (0.00)", "0.99 ± 0.01 (0.01)", "0.0050"),
                    "ssd": ("0.89 ± 0.01 (0.01)", "1.00 ± 0.01 (0.01)", "1.00 ± 0.01 (0.00)", "0.99 ± 0.01 (0.01)", "0.0075"),
                    "unsir": ("0.90 ± 0.00 (0.02)", "0.99 ± 0.00 (0.00)", "0.99 ± 0.00 (0.01)", "0.99 ± 0.01 (0.01)", "0.0100"),
                    "lotus": ("0.87 ± 0.00 (0.01)", "1.00 ± 0.00 (0.01)", "1.00 ± 0.00 (0.00)", "0.98 ± 0.01 (0.00)", "0.0050"),
                    "lotus_cifake": ("0.89 ± 0.00 (0.01)",
                                     "1.00 ± 0.00 (0.01)",
                                     "1.00 ± 0.00 (0.00)",
                                     "0.99 ± 0.00 (0.01)",
                                     "0.0075")},
 "vit-cifar100-10": {"original": ("0.75 ± 0.00", "0.97 ± 0.01", "0.96 ± 0.00", "0.91 ± 0.01", "—"),
                     "retrain": ("0.72 ± 0.00 (0.00)",
                                 "0.92 ± 0.00 (0.00)",
                                 "0.96 ± 0.00 (0.00)",
                                 "0.91 ± 0.00 (0.00)",
                                 "0.0000"),
                     "finetune": ("0.77 ± 0.00 (0.05)",
                                  "0.95 ± 0.01 (0.03)",
                                  "0.98 ± 0.00 (0.02)",
                                  "0.92 ± 0.01 (0.01)",
                                  "0.0275"),
                     "neggrad_plus": ("0.79 ± 0.02 (0.07)",
                                      "0.97 ± 0.02 (0.05)",
                                      "0.97 ± 0.02 (0.01)",
                                      "0.91 ± 0.01 (0.00)",
                                      "0.0325"),
                     "random_labeling": ("0.74 ± 0.01 (0.02)",
                                         "0.94 ± 0.00 (0.02)",
                                         "0.98 ± 0.00 (0.02)",
                                         "0.92 ± 0.00 (0.01)",
                                         "0.0175"),
                     "bad_teacher": ("0.66 ± 0.01 (0.06)",
                                     "0.90 ± 0.01 (0.02)",
                                     "0.91 ± 0.00 (0.05)",
                                     "0.89 ± 0.01 (0.02)",
                                     "0.0375"),
                     "scrub": ("0.75 ± 0.00 (0.03)", "0.97 ± 0.00 (0.05)", "0.96 ± 0.00 (0.00)", "0.91 ± 0.01 (0.00)", "0.0200"),
                     "ssd": ("0.75 ± 0.01 (0.03)", "0.96 ± 0.01 (0.04)", "0.96 ± 0.00 (0.00)", "0.91 ± 0.00 (0.00)", "0.0175"),
                     "unsir": ("0.78 ± 0.01 (0.06)", "0.94 ± 0.00 (0.02)", "0.95 ± 0.01 (0.01)", "0.90 ± 0.01 (0.01)", "0.0250"),
                     "lotus": ("0.73 ± 0.00 (0.01)", "0.96 ± 0.01 (0.04)", "0.96 ± 0.00 (0.00)", "0.91 ± 0.00 (0.00)", "0.0125")},
 "vit-mufac": {"original": ("0.58 ± 0.01", "0.63 ± 0.01", "0.66 ± 0.01", "0.66 ± 0.01", "—"),
               "retrain": ("0.57 ± 0.00 (0.00)", "0.57 ± 0.01 (0.00)", "0.66 ± 0.01 (0.00)", "0.65 ± 0.01 (0.00)", "0.0000"),
               "finetune": ("0.52 ± 0.08 (0.05)", "0.61 ± 0.01 (0.04)", "0.72 ± 0.01 (0.06)", "0.66 ± 0.01 (0.01)", "0.0400"),
               "neggrad_plus": ("0.52 ± 0.07 (0.05)", "0.66 ± 0.02 (0.09)", "0.71 ± 0.01 (0.05)", "0.65 ± 0.03 (0.00)", "0.0475"),
               "random_labeling": ("0.52 ± 0.10 (0.05)",
                                   "0.58 ± 0.01 (0.01)",
                                   "0.67 ± 0.02 (0.01)",
                                   "0.64 ± 0.01 (0.01)",
                                   "0.0200"),
               "bad_teacher": ("0.35 ± 0.05 (0.22)", "0.43 ± 0.06 (0.14)", "0.47 ± 0.07 (0.19)", "0.50 ± 0.08 (0.15)", "0.1750"),
               "scrub": ("0.59 ± 0.01 (0.02)", "0.62 ± 0.01 (0.05)", "0.66 ± 0.01 (0.00)", "0.66 ± 0.01 (0.01)", "0.0200"),
               "ssd": ("0.59 ± 0.01 (0.02)", "0.59 ± 0.04 (0.02)", "0.63 ± 0.04 (0.03)", "0.64 ± 0.01 (0.01)", "0.0200"),
               "unsir": ("0.47 ± 0.08 (0.10)", "0.58 ± 0.01 (0.01)", "0.72 ± 0.01 (0.06)", "0.63 ± 0.02 (0.02)", "0.0475"),
               "lotus": ("0.59 ± 0.01 (0.02)", "0.63 ± 0.00 (0.06)", "0.66 ± 0.01 (0.00)", "0.65 ± 0.01 (0.00)", "0.0200")},
 "resnet18-cifar10-50": {"original": ("0.94 ± 0.00", "1.00 ± 0.00", "1.00 ± 0.00", "0.93 ± 0.01", "—"),
                         "retrain": ("0.73 ± 0.01 (0.00)",
                                     "0.86 ± 0.01 (0.00)",
                                     "0.98 ± 0.01 (0.00)",
                                     "0.86 ± 0.01 (0.00)",
                                     "0.0000"),
                         "finetune": ("0.44 ± 0.01 (0.29)",
                                      "0.97 ± 0.01 (0.11)",
                                      "0.97 ± 0.01 (0.01)",
                                      "0.89 ± 0.01 (0.03)",
                                      "0.1100"),
                         "neggrad_plus": ("0.29 ± 0.25 (0.44)",
                                          "0.97 ± 0.01 (0.11)",
                                          "0.97 ± 0.01 (0.01)",
                                          "0.89 ± 0.01 (0.03)",
                                          "0.1475"),
                         "random_labeling": ("0.87 ± 0.23 (0.14)",
                                             "0.69 ± 0.09 (0.17)",
                                             "0.69 ± 0.09 (0.29)",
                                             "0.62 ± 0.07 (0.24)",
                                             "0.2100"),
                         "bad_teacher": ("0.59 ± 0.17 (0.14)",
                                         "0.92 ± 0.02 (0.06)",
                                         "0.93 ± 0.02 (0.05)",
                                         "0.86 ± 0.02 (0.00)",
                                         "0.0625"),
                         "scrub": ("0.93 ± 0.01 (0.20)",
                                   "1.00 ± 0.00 (0.14)",
                                   "1.00 ± 0.00 (0.02)",
                                   "0.93 ± 0.01 (0.07)",
                                   "0.1075"),
                         "ssd": ("0.92 ± 0.01 (0.19)",
                                 "1.00 ± 0.00 (0.14)",
                                 "1.00 ± 0.00 (0.02)",
                                 "0.92 ± 0.01 (0.06)",
                                 "0.1025"),
                         "unsir": ("0.45 ± 0.05 (0.28)",
                                   "0.94 ± 0.02 (0.08)",
                                   "0.94 ± 0.02 (0.04)",
                                   "0.87 ± 0.02 (0.01)",
                                   "0.1025"),
                         "lotus": ("0.79 ± 0.02 (0.06)",
                                   "0.99 ± 0.01 (0.13)",
                                   "0.99 ± 0.00 (0.01)",
                                   "0.92 ± 0.01 (0.06)",
                                   "0.0650")},
 "resnet18-cifar100-50": {"original": ("0.78 ± 0.04", "0.93 ± 0.03", "0.93 ± 0.03", "0.60 ± 0.02", "—"),
                          "retrain": ("0.41 ± 0.01 (0.00)",
                                      "0.52 ± 0.01 (0.00)",
                                      "0.98 ± 0.01 (0.00)",
                                      "0.54 ± 0.01 (0.00)",
                                      "0.0000"),
                          "finetune": ("0.00 ± 0.00 (0.41)",
                                       "0.41 ± 0.06 (0.11)",
                                       "0.41 ± 0.07 (0.57)",
                                       "0.35 ± 0.05 (0.19)",
                                       "0.3200"),
                          "neggrad_plus": ("0.00 ± 0.00 (0.41)",
                                           "0.42 ± 0.06 (0.10)",
                                           "0.42 ± 0.06 (0.56)",
                                           "0.35 ± 0.05 (0.19)",
                                           "0.3150"),
                          "random_labeling": ("0.00 ± 0.00 (0.41)",
                                              "0.30 ± 0.10 (0.22)",
                                              "0.33 ± 0.11 (0.65)",
                                              "0.27 ± 0.09 (0.27)",
                                              "0.3875"),
                          "bad_teacher": ("0.67 ± 0.58 (0.26)",
                                          "0.36 ± 0.05 (0.16)",
                                          "0.38 ± 0.05 (0.60)",
                                          "0.34 ± 0.04 (0.20)",
                                          "0.3050"),
                          "scrub": ("0.78 ± 0.04 (0.37)",
                                    "0.93 ± 0.03 (0.41)",
                                    "0.93 ± 0.03 (0.05)",
                                    "0.60 ± 0.02 (0.06)",
                                    "0.2225"),
                          "ssd": ("0.78 ± 0.04 (0.37)",
                                  "0.93 ± 0.03 (0.41)",
                                  "0.93 ± 0.03 (0.05)",
                                  "0.60 ± 0.02 (0.06)",
                                  "0.2225"),
                          "unsir": ("0.00 ± 0.00 (0.41)",
                                    "0.45 ± 0.06 (0.07)",
                                    "0.46 ± 0.06 (0.52)",
                                    "0.37 ± 0.04 (0.17)",
                                    "0.2925"),
                          "lotus": ("0.57 ± 0.02 (0.16)",
                                    "0.91 ± 0.03 (0.39)",
                                    "0.92 ± 0.03 (0.06)",
                                    "0.62 ± 0.02 (0.08)",
                                    "0.1725")},
 "vit-cifar10-50": {"original": ("0.87 ± 0.01", "1.00 ± 0.00", "1.00 ± 0.00", "0.99 ± 0.01", "—"),
                    "retrain": ("0.84 ± 0.01 (0.00)", "0.99 ± 0.01 (0.00)", "1.00 ± 0.00 (0.00)", "0.98 ± 0.00 (0.00)", "0.0000"),
                    "finetune": ("0.88 ± 0.01 (0.04)",
                                 "0.99 ± 0.00 (0.00)",
                                 "1.00 ± 0.00 (0.00)",
                                 "0.99 ± 0.01 (0.01)",
                                 "0.0125"),
                    "neggrad_plus": ("0.90 ± 0.00 (0.06)",
                                     "1.00 ± 0.00 (0.01)",
                                     "1.00 ± 0.00 (0.00)",
                                     "0.99 ± 0.00 (0.01)",
                                     "0.0200"),
                    "random_labeling": ("0.82 ± 0.02 (0.02)",
                                        "0.99 ± 0.00 (0.00)",
                                        "1.00 ± 0.00 (0.00)",
                                        "0.98 ± 0.01 (0.00)",
                                        "0.0050"),
                    "bad_teacher": ("0.76 ± 0.01 (0.08)",
                                    "0.93 ± 0.01 (0.06)",
                                    "0.95 ± 0.01 (0.05)",
                                    "0.93 ± 0.01 (0.05)",
                                    "0.0600"),
                    "scrub": ("0.87 ± 0.01 (0.03)", "1.00 ± 0.00 (0.01)", "1.00 ± 0.00 (0.00)", "0.99 ± 0.01 (0.01)", "0.0125"),
                    "ssd": ("0.88 ± 0.01 (0.04)", "1.00 ± 0.00 (0.01)", "1.00 ± 0.00 (0.00)", "0.99 ± 0.01 (0.01)", "0.0150"),
                    "unsir": ("0.89 ± 0.00 (0.05)", "0.99 ± 0.00 (0.00)", "0.99 ± 0.00 (0.01)", "0.98 ± 0.00 (0.00)", "0.0150"),
                    "lotus": ("0.83 ± 0.01 (0.01)", "1.00 ± 0.00 (0.01)", "1.00 ± 0.00 (0.00)", "0.98 ± 0.01 (0.00)", "0.0050")},
 "vit-cifar100-50": {"original": ("0.75 ± 0.00", "0.96 ± 0.00", "0.96 ± 0.00", "0.91 ± 0.01", "—"),
                     "retrain": ("0.68 ± 0.00 (0.00)",
                                 "0.91 ± 0.01 (0.00)",
                                 "0.95 ± 0.00 (0.00)",
                                 "0.90 ± 0.00 (0.00)",
                                 "0.0000"),
                     "finetune": ("0.75 ± 0.01 (0.07)",
                                  "0.94 ± 0.00 (0.03)",
                                  "0.99 ± 0.01 (0.04)",
                                  "0.92 ± 0.01 (0.02)",
                                  "0.0400"),
                     "neggrad_plus": ("0.80 ± 0.00 (0.12)",
                                      "0.98 ± 0.00 (0.07)",
                                      "0.98 ± 0.00 (0.03)",
                                      "0.92 ± 0.00 (0.02)",
                                      "0.0600"),
                     "random_labeling": ("0.72 ± 0.01 (0.04)",
                                         "0.94 ± 0.00 (0.03)",
                                         "0.97 ± 0.01 (0.02)",
                                         "0.91 ± 0.01 (0.01)",
                                         "0.0250"),
                     "bad_teacher": ("0.65 ± 0.01 (0.03)",
                                     "0.85 ± 0.01 (0.06)",
                                     "0.87 ± 0.01 (0.08)",
                                     "0.84 ± 0.00 (0.06)",
                                     "0.0575"),
                     "scrub": ("0.75 ± 0.00 (0.07)", "0.96 ± 0.00 (0.05)", "0.96 ± 0.00 (0.01)", "0.91 ± 0.01 (0.01)", "0.0350"),
                     "ssd": ("0.75 ± 0.00 (0.07)", "0.96 ± 0.00 (0.05)", "0.96 ± 0.00 (0.01)", "0.91 ± 0.01 (0.01)", "0.0350"),
                     "unsir": ("0.78 ± 0.01 (0.10)", "0.94 ± 0.01 (0.03)", "0.96 ± 0.00 (0.01)", "0.91 ± 0.00 (0.01)", "0.0375"),
                     "lotus": ("0.70 ± 0.00 (0.02)", "0.96 ± 0.00 (0.05)", "0.96 ± 0.01 (0.01)", "0.91 ± 0.00 (0.01)", "0.0225")}}

# --- notebooks/results.ipynb Pearson lines per benchmark: (x, y, r, p-value) ------------------
_NOTEBOOK_PCC = {"resnet18-cifar10-10": [("avg_gap", "js_proxy", "0.87", "0.0011"),
                         ("avg_gap", "js", "0.97", "0.0000"),
                         ("js", "js_proxy", "0.90", "0.0003")],
 "resnet18-cifar100-10": [("avg_gap", "js_proxy", "0.80", "0.0092"),
                          ("avg_gap", "js", "0.87", "0.0022"),
                          ("js", "js_proxy", "0.97", "0.0000")],
 "resnet18-mufac": [("avg_gap", "js_proxy", "0.38", "0.3107"),
                    ("avg_gap", "js", "0.77", "0.0163"),
                    ("js", "js_proxy", "0.88", "0.0018")],
 "resnet18-tinyimagenet-10": [("avg_gap", "js_proxy", "0.69", "0.0195"),
                              ("avg_gap", "js", "0.68", "0.0203"),
                              ("js", "js_proxy", "0.85", "0.0009")],
 "vit-cifar10-10": [("avg_gap", "js_proxy", "0.89", "0.0005"),
                    ("avg_gap", "js", "0.98", "0.0000"),
                    ("js", "js_proxy", "0.92", "0.0002")],
 "vit-cifar100-10": [("avg_gap", "js_proxy", "0.72", "0.0298"),
                     ("avg_gap", "js", "0.93", "0.0003"),
                     ("js", "js_proxy", "0.84", "0.0043")],
 "vit-mufac": [("avg_gap", "js_proxy", "0.97", "0.0000"),
               ("avg_gap", "js", "0.96", "0.0000"),
               ("js", "js_proxy", "0.93", "0.0003")],
 "resnet18-cifar10-50": [("avg_gap", "js_proxy", "0.74", "0.0234"),
                         ("avg_gap", "js", "0.90", "0.0010"),
                         ("js", "js_proxy", "0.89", "0.0013")],
 "resnet18-cifar100-50": [("avg_gap", "js_proxy", "0.79", "0.0118"),
                          ("avg_gap", "js", "0.80", "0.0103"),
                          ("js", "js_proxy", "0.91", "0.0006")],
 "vit-cifar10-50": [("avg_gap", "js_proxy", "0.96", "0.0000"),
                    ("avg_gap", "js", "0.96", "0.0001"),
                    ("js", "js_proxy", "0.99", "0.0000")],
 "vit-cifar100-50": [("avg_gap", "js_proxy", "0.65", "0.0600"),
                     ("avg_gap", "js", "0.81", "0.0084"),
                     ("js", "js_proxy", "0.94", "0.0001")]}

# --- Final paper, Table 4: ImageNet-1k, ViT-B/16, no gold model -----------------------------
# (rf_jsd x1e4, time_min, acc_retain, mia); the original model is used as pre-trained (no time).
_PAPER_TABLE4 = {
    "original": ("1.22±0.01", None, "0.94±0.00", "0.71±0.00"),
    "finetune": ("2.22±0.02", "16.24±0.03", "0.97±0.00", "0.78±0.00"),
    "neggrad_plus": ("2.17±0.02", "18.10±0.03", "0.97±0.00", "0.80±0.00"),
    "random_labeling": ("1.80±0.09", "19.37±0.03", "0.95±0.01", "0.74±0.01"),
    "bad_teacher": ("3.16±3.25", "11.66±0.03", "0.77±0.21", "0.52±0.18"),
    "scrub": ("1.24±0.01", "24.49±0.03", "0.94±0.00", "0.71±0.00"),
    "ssd": ("1.23±0.01", "22.61±0.10", "0.94±0.00", "0.71±0.00"),
    "unsir": ("2.54±0.03", "33.12±0.03", "0.99±0.00", "0.77±0.01"),
    "salun": ("1.83±0.03", "59.27±0.37", "0.95±0.00", "0.74±0.01"),
    "lotus": ("1.11±0.01", "10.72±0.01", "0.94±0.00", "0.61±0.01"),
}

# --- results_imagenet.ipynb: extra columns (acc_test, acc_forget); SalUn is not in the notebook --
_IMAGENET_NOTEBOOK = {
    "original": ("0.81±0.00", "0.95±0.00"),
    "finetune": ("0.80±0.00", "0.94±0.01"),
    "neggrad_plus": ("0.80±0.00", "0.97±0.00"),
    "random_labeling": ("0.80±0.00", "0.93±0.01"),
    "bad_teacher": ("0.66±0.18", "0.76±0.21"),
    "scrub": ("0.80±0.01", "0.94±0.00"),
    "ssd": ("0.80±0.00", "0.94±0.00"),
    "unsir": ("0.79±0.00", "0.94±0.00"),
    "lotus": ("0.80±0.00", "0.94±0.00"),
}

# --- Review supplement, Table 4: the Avg Gap column (the accuracy cells equal the notebook's) ----
_SUPP_TABLE4_METHODS = ("finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "ssd", "unsir", "lotus")
_SUPP_TABLE4_AVG_GAP = {
    "vit-cifar100-10": ("0.0275", "0.0325", "0.0175", "0.0375", "0.0200", "0.0175", "0.0250", "0.0125"),
    "vit-cifar10-10": ("0.0075", "0.0125", "0.0125", "0.0375", "0.0050", "0.0075", "0.0100", "0.0050"),
    "vit-mufac": ("0.0400", "0.0475", "0.0200", "0.1750", "0.0200", "0.0200", "0.0475", "0.0200"),
    "resnet18-cifar100-10": ("0.3600", "0.3575", "0.4025", "0.3675", "0.1650", "0.2125", "0.3625", "0.1025"),
    "resnet18-cifar10-10": ("0.1375", "0.0975", "0.0925", "0.2650", "0.0750", "0.0825", "0.1075", "0.0375"),
    "resnet18-mufac": ("0.1525", "0.1550", "0.1300", "0.1025", "0.1625", "0.1600", "0.1450", "0.1250"),
}

# --- Review supplement, Table 6: Pearson correlation between RF-JSD and JSD (pcc, p-value) -----
_SUPP_TABLE6 = {
    "vit-cifar100-10": ("0.84", "0.0043"),
    "vit-cifar10-10": ("0.92", "0.0005"),
    "vit-mufac": ("0.93", "0.0003"),
    "vit-cifar100-50": ("0.94", "0.0001"),
    "vit-cifar10-50": ("0.99", "0.0000"),
    "resnet18-cifar100-10": ("0.97", "0.0000"),
    "resnet18-cifar10-10": ("0.90", "0.0011"),
    "resnet18-mufac": ("0.88", "0.0018"),
    "resnet18-cifar100-50": ("0.91", "0.0006"),
    "resnet18-cifar10-50": ("0.89", "0.0013"),
}
#: the "Mean ± Std" row of supplementary Table 6 (pcc, p-value)
SUPP_TABLE6_SUMMARY = ("0.92±0.04", "0.0010±0.0016")

# --- results_class.ipynb (ResNet18, class unlearning; spec 7.9) --------------------------------
# Per (dataset, forgotten class, method): the printed entry, in the order Avg Gap / JSD x1e4 /
# time (min) / RF-JSD (unscaled); baselines were printed with Avg Gap / JSD only. ``mia`` is
# stated separately in the spec (LoTUS 0.00 in every setting). A bare value that the source
# prints without a label is kept in ``note``.
_CLASS_UNLEARNING = [
    # dataset, class, method, avg_gap, jsd, time_min, rf_jsd, mia, note
    ("cifar10", "cat", "retrain", "0", "0", "4.88", "1.47", "0.35", None),
    ("cifar10", "cat", "lotus", "0.1425", "2.99±0.88", "0.28", "0.22", "0.00", None),
    ("cifar10", "cat", "unsir", "0.0575", "2.96", None, None, None, "a third value, 0.44, is printed without a label"),
    ("cifar10", "cat", "bad_teacher", "0.1750", "2.50", None, None, None, None),
    ("cifar10", "cat", "random_labeling", "0.1025", "3.78", None, None, None, None),
    ("cifar10", "cat", "ssd", "0.3750", "4.31", None, None, None, None),
    ("cifar10", "cat", "scrub", "0.4175", "7.44", None, None, None, None),
    ("cifar10", "cat", "neggrad_plus", "0.3400", "7.64", None, None, None, None),
    ("cifar10", "cat", "finetune", "0.2550", "8.41", None, None, None, None),
    ("cifar100", "beaver", "retrain", "0", "0", "4.00", None, "0.23", None),
    ("cifar100", "beaver", "lotus", "0.1200", "25.46±1.41", "0.23", None, "0.00", None),
    ("cifar100", "beaver", "ssd", "0.4325", "45.19", None, None, None, None),
    ("cifar100", "beaver", "scrub", "0.3225", "64.09", None, None, None, None),
    ("cifar100", "beaver", "unsir", "0.4050", "76.28", None, None, None, None),
    ("cifar100", "beaver", "bad_teacher", "0.3000", "76.85", None, None, None, None),
    ("cifar100", "beaver", "salun", "0.2850", "100.93", None, None, None, None),
    ("cifar100", "beaver", "finetune", "0.2850", "101.48", None, None, None, None),
    ("cifar100", "beaver", "random_labeling", "0.2925", "102.66", None, None, None, None),
    ("cifar100", "beaver", "neggrad_plus", "0.3725", "108.50", None, None, None, None),
    ("cifar100", "rocket", "retrain", None, None, None, None, "0.18", "only the gold model's MIA is given"),
    ("cifar100", "rocket", "lotus", "0.1475", "20.77±6.25", "0.22", None, "0.00", None),
    ("cifar100", "rocket", "ssd", "0.4700", "36.44", None, None, None, None),
    ("cifar100", "rocket", "scrub", "0.4000", "66.49", None, None, None, None),
    ("cifar100", "rocket", "bad_teacher", "0.3450", "67.73", None, None, None, None),
    ("cifar100", "rocket", "unsir", "0.4350", "74.53", None, None, None, None),
    ("cifar100", "rocket", "finetune", "0.3525", "95.27", None, None, None, None),
    ("cifar100", "rocket", "random_labeling", "0.3525", "96.02", None, None, None, None),
    ("cifar100", "rocket", "neggrad_plus", "0.4450", "98.06", None, None, None, None),
    ("tinyimagenet", "pizza", "retrain", None, None, "42.15", None, "0.22", "only the gold model's time and MIA are given"),
    ("tinyimagenet", "pizza", "lotus", "0.0925", "37.02±18.68", "1.30", None, "0.00", None),
    ("tinyimagenet", "pizza", "ssd", "0.3650", "34.96", None, None, None, None),
    ("tinyimagenet", "pizza", "bad_teacher", "0.3125", "72.62", None, None, None, None),
    ("tinyimagenet", "pizza", "scrub", "0.4200", "73.10", None, None, None, None),
    ("tinyimagenet", "pizza", "neggrad_plus", "0.3250", "86.36", None, None, None, None),
    ("tinyimagenet", "pizza", "salun", "0.2925", "91.01", None, None, None, None),
    ("tinyimagenet", "pizza", "random_labeling", "0.2925", "92.27", None, None, None, None),
    ("tinyimagenet", "pizza", "finetune", "0.2975", "94.96", None, None, None, None),
    ("tinyimagenet", "pizza", "unsir", "0.5075", "102.29", None, None, None, None),
]

# --- tuning_results.ipynb: alpha grid (Avg Gap here is the mean of FIVE gaps incl. test and val) --
_ALPHA_SWEEP = {
    "resnet18-cifar10-10": {8: "0.0375", 16: "0.0425", 4: "0.0525", 2: "0.0575"},
    "resnet18-cifar100-10": {2: "0.1025", 4: "0.1350", 16: "0.1450", 8: "0.1575"},
    "resnet18-mufac": {2: "0.1250", 4: "0.1400", 8: "0.1800", 16: "0.1925"},
    "vit-cifar10-10": {2: "0.0050", 8: "0.0050", 4: "0.0075", 16: "0.0100"},
    "vit-cifar100-10": {2: "0.0125", 4: "0.0125", 8: "0.0150", 16: "0.0225"},
    "vit-mufac": {2: "0.0200", 16: "0.0225", 4: "0.0225", 8: "0.0225"},
}

#: Every cell where a published table and the authors' notebook disagree: (benchmark, method,
#: column, table, published value, notebook value). The final paper presumably re-ran some
#: experiments after the review; the spec notes the LoTUS differences (7.1, 7.2).
KNOWN_DIFFERENCES = (
    ("vit-cifar100-10", "lotus", "jsd", "cvpr2025 Table 1", "0.04±0.02", "0.03 ± 0.00"),
    ("resnet18-cifar100-10", "lotus", "avg_gap", "cvpr2025 Table 1", "0.1200", "0.1025"),
    ("resnet18-cifar100-10", "lotus", "jsd", "cvpr2025 Table 1", "1.67±0.37", "1.29 ± 0.03"),
    ("vit-cifar10-10", "bad_teacher", "time_min", "cvpr2025 Table 2", "8.97±0.02", "8.79 ± 0.02"),
    ("vit-cifar10-10", "lotus", "time_min", "cvpr2025 Table 2", "7.34±0.19", "7.34 ± 0.25"),
    ("resnet18-cifar10-10", "lotus", "avg_gap", "cvpr2025 Table 2", "0.0350", "0.0375"),
    ("resnet18-cifar10-10", "lotus", "jsd", "cvpr2025 Table 2", "0.32±0.04", "0.30 ± 0.04"),
    ("vit-cifar100-50", "random_labeling", "time_min", "review_supplement Table 5", "12.63±0.02", "12.62 ± 0.02"),
)


# =============================================================================================
# Access functions
# =============================================================================================

_PM_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:±\s*(\d+(?:\.\d+)?))?\s*(?:\((\d+(?:\.\d+)?)\))?\s*$")
_NAN = float("nan")


def parse_pm(text: str | None) -> tuple[float, float]:
    """Parse a printed ``"mean ± std"`` cell into ``(mean, std)``.

    A bare number gives ``(value, nan)``; ``None`` or an em dash gives ``(nan, nan)``. A trailing
    parenthesised gap (``"0.30 ± 0.26 (0.46)"``) is ignored here.
    """
    if text is None or str(text).strip() in ("", "—", "-"):
        return _NAN, _NAN
    m = _PM_RE.match(str(text))
    if not m:
        raise LotusError(f"cannot parse published value {text!r}; expected 'mean ± std' or a number")
    std = float(m.group(2)) if m.group(2) is not None else _NAN
    return float(m.group(1)), std


def _parse_cell(text: str) -> tuple[float, float, float]:
    """``"0.30 ± 0.26 (0.46)"`` -> ``(0.30, 0.26, 0.46)``; a missing gap is ``nan``."""
    m = _PM_RE.match(str(text))
    if not m:
        raise LotusError(f"cannot parse published value {text!r}")
    mean, std = parse_pm(text)
    gap = float(m.group(3)) if m.group(3) is not None else _NAN
    return mean, std, gap


def format_pm(mean: float, std: float | None = None, digits: int = 2) -> str:
    """``"mean ± std"`` with ``digits`` decimals (``"—"`` for a missing mean; no ``±`` part when
    ``std`` is missing)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def method_label(method: str) -> str:
    """The paper's display name of a method key (``"neggrad_plus"`` -> ``"NegGrad+"``); unknown
    keys are returned unchanged."""
    return METHOD_LABELS.get(method, method)


def _check_benchmark(benchmark: str) -> str:
    if benchmark not in _BENCHMARKS:
        raise LotusError(f"unknown benchmark {benchmark!r}; valid: {', '.join(_BENCHMARKS)}")
    return benchmark


def _tables_holding(benchmark: str) -> list[str]:
    tables = []
    for name, data in (("cvpr2025 Table 1", _PAPER_TABLE1), ("cvpr2025 Table 2", _PAPER_TABLE2),
                       ("cvpr2025 Table 3", _PAPER_TABLE3), ("review_supplement Table 5", _SUPP_TABLE5),
                       ("review_supplement Table 4", _SUPP_TABLE4_AVG_GAP), ("review_supplement Table 6", _SUPP_TABLE6),
                       ("notebook", _NOTEBOOK_SUMMARY)):
        if benchmark in data:
            tables.append(name)
    if benchmark == "vit-imagenet1k":
        tables += ["cvpr2025 Table 4", "imagenet_notebook"]
    return tables


def list_benchmarks() -> pd.DataFrame:
    """One row per published benchmark (index: benchmark key such as ``"resnet18-cifar10-10"``).

    Columns: ``label``; ``model``, ``dataset`` and ``forget`` in the package's names (the
    ``forget`` spec is what :func:`lotus.data.load_splits` accepts); ``forget_size`` (the forget-set size of the
    full-size benchmark) and ``num_classes``; the authors' LoTUS ``lotus_alpha``,
    ``lotus_epochs`` and ``lotus_lr``; ``tables``: the sources that hold numbers for it.
    """
    rows = [dict(benchmark=b, **info, tables=", ".join(_tables_holding(b))) for b, info in _BENCHMARKS.items()]
    return pd.DataFrame(rows).set_index("benchmark")


def benchmark_info(benchmark: str) -> dict:
    """The :func:`list_benchmarks` row of ``benchmark`` as a dict."""
    return dict(_BENCHMARKS[_check_benchmark(benchmark)], benchmark=benchmark, tables=_tables_holding(benchmark))


def closest_benchmark(dataset: str, model: str, forget) -> str | None:
    """The published benchmark nearest to a run of ``model`` on ``dataset`` with ``forget``.

    The model family is ViT when ``"vit"`` is in the model name, else ResNet18 (any CNN). The
    data set is kept when the paper used it (``cifar10``, ``cifar100``, ``mufac``,
    ``tinyimagenet``); any other data set (digits, an image folder) maps to CIFAR-10, the
    paper's smallest. A forget fraction of at least 0.3 maps to the 50 % benchmarks, a smaller
    one to 10 %; ``"count:N"`` maps to the ImageNet-1k protocol; a ``"class:..."`` spec has no
    instance-wise counterpart and returns ``None`` (see :func:`published_class_unlearning`).
    """
    from .data import parse_forget_spec

    kind, value = parse_forget_spec(forget)
    if kind == "class":
        return None
    if kind == "count":
        return "vit-imagenet1k"
    family = "vit" if "vit" in str(model).lower() else "resnet18"
    ds = str(dataset).lower()
    if ds == "mufac" or kind == "rows":
        return f"{family}-mufac"
    ds = ds if ds in ("cifar10", "cifar100", "tinyimagenet") else "cifar10"
    if kind == "fraction" and value >= 0.3 and ds != "tinyimagenet":
        return f"{family}-{ds}-50"
    return f"{family}-{ds}-10"


def _frame(rows: list[dict], benchmark: str, source: str) -> pd.DataFrame:
    df = pd.DataFrame(rows).set_index("method")
    df.attrs.update(benchmark=benchmark, source=source, label=_BENCHMARKS[benchmark]["label"],
                    scales={"jsd": SCALES["jsd"], "rf_jsd": SCALES["rf_jsd"]})
    return df


def _summary_row(method: str, table: str, avg_gap=None, jsd=None, time_min=None, rf_jsd=None) -> dict:
    row = {"method": method, "label": method_label(method), "avg_gap": parse_pm(avg_gap)[0]}
    for name, text in (("jsd", jsd), ("rf_jsd", rf_jsd), ("time_min", time_min)):
        row[name], row[f"{name}_std"] = parse_pm(text)
    row["table"] = table
    return row


_PUBLISHED_SOURCES = ("cvpr2025", "notebook")


def published_table(benchmark: str, source: str = "cvpr2025") -> pd.DataFrame:
    """The published summary numbers of one benchmark, one row per method (index: method key).

    ``source="cvpr2025"`` (default): the final paper (Table 1 or 2 for 10 % forget sets,
    Table 3 for 50 %, completed with the basic methods of the review supplement's Table 5,
    Table 4 for ImageNet-1k). ``source="notebook"``: the authors' notebook summary block, which
    also has RF-JSD for every method and the gold model's RF-JSD.

    Columns: ``label``, ``avg_gap``, ``jsd``/``jsd_std`` and ``rf_jsd``/``rf_jsd_std`` (x1e4,
    authors' formula), ``time_min``/``time_min_std`` (minutes), ``table`` (where the row was
    printed); ImageNet-1k adds ``acc_retain`` and ``mia``. Values not published are ``NaN``.
    ``df.attrs`` holds ``benchmark``, ``source``, ``label`` and the ``scales``.
    """
    _check_benchmark(benchmark)
    if source not in _PUBLISHED_SOURCES:
        raise LotusError(f"unknown source {source!r}; valid: {', '.join(_PUBLISHED_SOURCES)}")
    rows = []
    if source == "notebook":
        if benchmark not in _NOTEBOOK_SUMMARY:
            raise LotusError(f"the authors' notebook has no summary block for {benchmark!r}; "
                             f"valid: {', '.join(_NOTEBOOK_SUMMARY)}")
        for method, (ag, t, js, rf) in _NOTEBOOK_SUMMARY[benchmark].items():
            rows.append(_summary_row(method, "notebook", ag, js, t, rf))
        return _frame(rows, benchmark, source)
    if benchmark == "vit-imagenet1k":
        for method, (rf, t, acc_r, mia) in _PAPER_TABLE4.items():
            row = _summary_row(method, "cvpr2025 Table 4", None, None, t, rf)
            row["acc_retain"], row["acc_retain_std"] = parse_pm(acc_r)
            row["mia"], row["mia_std"] = parse_pm(mia)
            rows.append(row)
        return _frame(rows, benchmark, source)
    if benchmark in _PAPER_TABLE3:
        basic = {m: v for m, v in _SUPP_TABLE5[benchmark].items() if m not in _PAPER_TABLE3[benchmark]}
        for method, (ag, js, t) in basic.items():
            rows.append(_summary_row(method, "review_supplement Table 5", ag, js, t))
        for method, (ag, js, t) in _PAPER_TABLE3[benchmark].items():
            rows.append(_summary_row(method, "cvpr2025 Table 3", ag, js, t))
        return _frame(rows, benchmark, source)
    for name, table in (("cvpr2025 Table 1", _PAPER_TABLE1), ("cvpr2025 Table 2", _PAPER_TABLE2)):
        if benchmark in table:
            for method, (ag, js, t) in table[benchmark].items():
                rows.append(_summary_row(method, name, ag, js, t))
            return _frame(rows, benchmark, source)
    raise LotusError(f"the final paper has no table for {benchmark!r}; try source='notebook'")


_ACC_KEYS = ("mia", "acc_forget", "acc_retain", "acc_test")


def published_accuracies(benchmark: str) -> pd.DataFrame:
    """The accuracies behind Avg Gap (review supplement Table 4 = the notebook's accuracy block).

    Index: method key (``"original"`` and ``"retrain"`` included). Columns, for each of ``mia``,
    ``acc_forget``, ``acc_retain``, ``acc_test``: the seed mean, ``<name>_std`` and
    ``<name>_gap`` (the printed absolute gap to the gold model, ``NaN`` for the original model); then
    ``avg_gap``. ImageNet-1k has no gold model: retain accuracy and MIA come from the final
    paper's Table 4, forget and test accuracy from the authors' ImageNet notebook, gaps are
    ``NaN``. Note: the Tiny-ImageNet ``"original"`` row was logged in percent.
    """
    _check_benchmark(benchmark)
    rows = []
    if benchmark == "vit-imagenet1k":
        for method, (_rf, _t, acc_r, mia) in _PAPER_TABLE4.items():
            acc_t, acc_f = _IMAGENET_NOTEBOOK.get(method, (None, None))
            row = {"method": method, "label": method_label(method)}
            for key, text in (("mia", mia), ("acc_forget", acc_f), ("acc_retain", acc_r), ("acc_test", acc_t)):
                row[key], row[f"{key}_std"] = parse_pm(text)
                row[f"{key}_gap"] = _NAN
            row["avg_gap"] = _NAN
            rows.append(row)
        return _frame(rows, benchmark, "cvpr2025 Table 4 + imagenet_notebook")
    if benchmark not in _NOTEBOOK_ACCURACY:
        raise LotusError(f"no published accuracies for {benchmark!r}; valid: "
                         f"{', '.join(list(_NOTEBOOK_ACCURACY) + ['vit-imagenet1k'])}")
    for method, cells in _NOTEBOOK_ACCURACY[benchmark].items():
        row = {"method": method, "label": method_label(method)}
        for key, text in zip(_ACC_KEYS, cells[:4]):
            row[key], row[f"{key}_std"], row[f"{key}_gap"] = _parse_cell(text)
        row["avg_gap"] = parse_pm(cells[4])[0]
        rows.append(row)
    return _frame(rows, benchmark, "notebook (= review_supplement Table 4)")


def published_pcc(source: str = "review_supplement") -> pd.DataFrame:
    """Published Pearson correlations between RF-JSD and JSD, one row per benchmark.

    ``source="review_supplement"``: Table 6 (ten benchmarks; columns ``label``, ``pcc``,
    ``p_value``); its "Mean ± Std" row is :data:`SUPP_TABLE6_SUMMARY`. ``source="notebook"``:
    the three correlations the notebook printed for each of its eleven benchmarks, computed over
    the method means of the summary block with the gold model included: ``pcc``/``p_value``
    (JSD vs RF-JSD), ``pcc_gap_rf``/``p_gap_rf`` (Avg Gap vs RF-JSD), ``pcc_gap_jsd``/
    ``p_gap_jsd`` (Avg Gap vs JSD). The review table left out the synthetic-D_u LoTUS point that
    the notebook includes for the two CIFAR-10 10 % benchmarks.
    """
    rows = []
    if source == "review_supplement":
        for b, (r, p) in _SUPP_TABLE6.items():
            rows.append(dict(benchmark=b, label=_BENCHMARKS[b]["label"], pcc=float(r), p_value=float(p)))
    elif source == "notebook":
        names = {("js", "js_proxy"): ("pcc", "p_value"), ("avg_gap", "js_proxy"): ("pcc_gap_rf", "p_gap_rf"),
                 ("avg_gap", "js"): ("pcc_gap_jsd", "p_gap_jsd")}
        for b, lines in _NOTEBOOK_PCC.items():
            row = dict(benchmark=b, label=_BENCHMARKS[b]["label"])
            for x, y, r, p in lines:
                cr, cp = names[(x, y)]
                row[cr], row[cp] = float(r), float(p)
            rows.append(row)
    else:
        raise LotusError(f"unknown source {source!r}; valid: review_supplement, notebook")
    df = pd.DataFrame(rows).set_index("benchmark")
    df.attrs["source"] = source
    return df


def published_class_unlearning(dataset: str | None = None, forget_class: str | None = None) -> pd.DataFrame:
    """ResNet18 class-unlearning results of the authors' class notebook (spec 7.9).

    One row per (dataset, forgotten class, method) with columns ``dataset``, ``forget_class``,
    ``method``, ``label``, ``avg_gap``, ``jsd``/``jsd_std`` (x1e4), ``time_min``, ``rf_jsd``
    (**unscaled**: with a single forgotten class the authors' 1/k factor is 1), ``mia`` and
    ``note``. Baselines were published with Avg Gap and JSD only. Filter with ``dataset``
    (``"cifar10"``, ``"cifar100"``, ``"tinyimagenet"``) and ``forget_class``.
    """
    rows = []
    for ds, cls, method, ag, js, t, rf, mia, note in _CLASS_UNLEARNING:
        row = dict(dataset=ds, forget_class=cls, method=method, label=method_label(method),
                   avg_gap=parse_pm(ag)[0])
        row["jsd"], row["jsd_std"] = parse_pm(js)
        row.update(time_min=parse_pm(t)[0], rf_jsd=parse_pm(rf)[0], mia=parse_pm(mia)[0], note=note)
        rows.append(row)
    df = pd.DataFrame(rows)
    if dataset is not None:
        valid = sorted(set(df["dataset"]))
        if dataset not in valid:
            raise LotusError(f"no class-unlearning results for dataset {dataset!r}; valid: {', '.join(valid)}")
        df = df[df["dataset"] == dataset]
    if forget_class is not None:
        valid = sorted(set(df["forget_class"]))
        if forget_class not in valid:
            raise LotusError(f"no class-unlearning results for class {forget_class!r}; valid: {', '.join(valid)}")
        df = df[df["forget_class"] == forget_class]
    df = df.reset_index(drop=True)
    df.attrs.update(source="class_notebook", scales={"jsd": SCALES["jsd"], "rf_jsd": SCALES["rf_jsd_class_unlearning"]})
    return df


def published_alpha_sweep(benchmark: str | None = None) -> pd.DataFrame:
    """The authors' grid search over LoTUS's alpha (columns ``benchmark``, ``alpha``,
    ``avg_gap_5``), sorted as printed (best first). Their tuning Avg Gap averages **five** gaps
    (MIA, forget, retain, test *and* val accuracy), unlike the paper's four-term Avg Gap."""
    rows = [dict(benchmark=b, alpha=a, avg_gap_5=float(v))
            for b, sweep in _ALPHA_SWEEP.items() if benchmark in (None, b) for a, v in sweep.items()]
    if not rows:
        raise LotusError(f"no alpha sweep for {benchmark!r}; valid: {', '.join(_ALPHA_SWEEP)}")
    return pd.DataFrame(rows)


def published_differences() -> pd.DataFrame:
    """:data:`KNOWN_DIFFERENCES` as a table (columns ``benchmark``, ``method``, ``column``,
    ``table``, ``published``, ``notebook``)."""
    return pd.DataFrame(KNOWN_DIFFERENCES, columns=["benchmark", "method", "column", "table", "published", "notebook"])


def recompute_avg_gap(benchmark: str) -> pd.Series:
    """Avg Gap recomputed from the published accuracy means (the authors' "gap of means"):
    for each method, the mean over MIA, forget, retain and test accuracy of
    ``|method mean - gold mean|``, rounded to 4 decimals. Index: method (the original model is left out)."""
    acc = published_accuracies(benchmark)
    if "retrain" not in acc.index:
        raise LotusError(f"{benchmark!r} has no gold model, so it has no Avg Gap")
    gold = acc.loc["retrain", list(_ACC_KEYS)]
    body = acc.drop(index="original", errors="ignore")[list(_ACC_KEYS)]
    return (body - gold).abs().mean(axis=1).round(4).rename("avg_gap")


def recompute_pcc(benchmark: str, *, x: str = "jsd", y: str = "rf_jsd",
                  exclude: Iterable[str] = ()) -> tuple[float, float]:
    """Pearson ``(r, p)`` between two columns of the notebook summary block of ``benchmark``,
    over its method means (gold included), leaving out the methods in ``exclude``.

    With the defaults this reproduces the notebook's "js vs js_proxy" line; the review
    supplement's Table 6 corresponds to ``exclude=("lotus_cifake",)``.
    """
    from .metrics import pearson

    df = published_table(benchmark, source="notebook").drop(index=list(exclude), errors="ignore")
    for col in (x, y):
        if col not in ("avg_gap", "jsd", "rf_jsd", "time_min"):
            raise LotusError(f"unknown column {col!r}; valid: avg_gap, jsd, rf_jsd, time_min")
    return pearson(df[x].to_numpy(), df[y].to_numpy())


def side_by_side(ours: pd.DataFrame, published: pd.DataFrame, columns: Iterable[str],
                 names: tuple[str, str] = ("ours", "paper")) -> pd.DataFrame:
    """Join two method-indexed tables into one with two-level columns ``(metric, source)``.

    ``ours`` and ``published`` are indexed by method key; every name in ``columns`` must exist in
    at least one of them (missing cells become ``NaN``). Rows: the union of methods, ours first.
    """
    columns = list(columns)
    for col in columns:
        if col not in ours.columns and col not in published.columns:
            raise LotusError(f"column {col!r} is in neither table; ours has {list(ours.columns)}, "
                             f"the published table has {list(published.columns)}")
    index = list(ours.index) + [m for m in published.index if m not in ours.index]
    data = {}
    for col in columns:
        for name, df in zip(names, (ours, published)):
            data[(col, name)] = df[col].reindex(index) if col in df.columns else pd.Series(_NAN, index=index)
    out = pd.DataFrame(data, index=index)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["metric", "source"])
    out.index.name = "method"
    return out
