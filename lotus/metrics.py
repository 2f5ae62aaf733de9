"""Evaluation metrics of the LoTUS paper (spec section 4), exact and batched.

Pure functions take probability tensors ``[N, K]`` (rows sum to 1) and return plain floats
or tensors; model-level helpers (:func:`predict`, :func:`accuracy`, :func:`evaluate`) make
one batched inference pass per split in ``torch.inference_mode()`` with the model in eval
mode. Logarithms are natural: divergences and entropies are in nats.

``legacy=True`` reproduces the authors' formula for JSD / RF-JSD (spec 4.3, 9.4): clamped
inputs, one *global* normalisation over all ``N*K`` entries, reversed KL arguments and
``batchmean`` reduction, which equals ``(1/N) * mean_i[0.5 KL(m_i||p_i) + 0.5 KL(m_i||q_i)]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from .data import ImageSplit, UnlearningSplits, load_splits
from .distributed import all_gather_rows, current, shard_range
from .models import as_classifier, check_classifier, load_model_file, model_device, model_family
from .utils import LotusError, autocast, resolve_device

__all__ = [
    "entropy",
    "js_divergence",
    "rf_jsd",
    "class_mean_probs",
    "ClassMeans",
    "rf_jsd_from_means",
    "rf_jsd_streamed",
    "mia_entropy",
    "zrf",
    "avg_gap",
    "pearson",
    "predict",
    "accuracy",
    "evaluate",
    "uses_channels_last",
    "score_checkpoint",
    "read_indices",
    "AVG_GAP_KEYS",
    "SCORE_KEYS",
]

AVG_GAP_KEYS = ("mia", "acc_forget", "acc_retain", "acc_test")


def _as_probs(p, name: str) -> torch.Tensor:
    p = torch.as_tensor(p)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2:
        raise LotusError(f"{name} must be [N, K] probabilities, got shape {tuple(p.shape)}")
    if p.shape[0] == 0:
        raise LotusError(f"{name} is empty")
    p = p.double()
    # three passes (row sums, minimum, the rest only on failure): a NaN or infinity anywhere
    # makes its row's sum non-finite, so the sums check finiteness too
    sums = p.sum(dim=1)
    low = float(p.min())
    if not torch.isfinite(sums).all() or low < -1e-6:
        raise LotusError(f"{name} contains negative or non-finite values")
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        raise LotusError(f"rows of {name} must sum to 1 (got sums between {sums.min():.4f} and {sums.max():.4f}); pass softmax outputs")
    return p.clamp_min(0) if low < 0 else p


def entropy(probs) -> torch.Tensor:
    """Shannon entropy of each row, in nats: ``-sum_c p_c log p_c`` with ``0 log 0 = 0``.

    ``probs``: ``[N, K]`` (or ``[K]``). Returns ``float32 [N]``.
    """
    p = _as_probs(probs, "probs")
    return torch.special.entr(p).sum(dim=1).float()


def _kl_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise KL(a || b) with ``0 log 0 = 0``."""
    return (torch.xlogy(a, a) - torch.xlogy(a, b)).sum(dim=1)


def _js_rows(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    m = 0.5 * (p + q)
    return 0.5 * _kl_rows(p, m) + 0.5 * _kl_rows(q, m)


def _legacy_jsdiv(p: torch.Tensor, q: torch.Tensor) -> float:
    """The authors' ``JSDiv``: clamp, global normalisation, reversed KL, batchmean."""
    n = p.shape[0]
    p = p.clamp(1e-8, 1.0)
    q = q.clamp(1e-8, 1.0)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)
    # kl_div(input=log a, target=m, reduction="batchmean") = sum m (log m - log a) / N
    kl_m_p = (m * (m.log() - p.log())).sum() / n
    kl_m_q = (m * (m.log() - q.log())).sum() / n
    return float(0.5 * (kl_m_p + kl_m_q))


def js_divergence(p, q, *, legacy: bool = False) -> float:
    """Jensen-Shannon divergence between matching rows of ``p`` and ``q`` (``[N, K]``).

    Default: the textbook JS divergence in nats, ``0.5 KL(p||m) + 0.5 KL(q||m)`` with
    ``m = (p + q) / 2``, averaged over rows; symmetric and bounded by ``ln 2``.
    ``legacy=True``: the authors' formula (see module docstring), for comparing with
    published numbers.
    """
    p = _as_probs(p, "p")
    q = _as_probs(q, "q")
    if p.shape != q.shape:
        raise LotusError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    if legacy:
        return _legacy_jsdiv(p, q)
    return float(_js_rows(p, q).mean())


class ClassMeans:
    """Streaming per-class sums of probability rows: the class means of RF-JSD without
    holding every prediction in memory.

    ``update(probs [B, K], labels [B])`` adds a batch (rows are checked like every metric
    input); ``means()`` returns ``(means [C, K] float64, L1-normalised; counts [C])`` with
    zero rows for absent classes. Memory: ``C x K`` float64 sums, whatever the number of
    rows. Sums are accumulated in float64, so streaming in batches and one call on all rows
    agree to rounding (~1e-15 relative).
    """

    def __init__(self, num_classes: int, num_outputs: int | None = None):
        if int(num_classes) < 1:
            raise LotusError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.num_outputs = int(num_outputs) if num_outputs is not None else None
        self.sums: torch.Tensor | None = None
        self.counts = torch.zeros(self.num_classes, dtype=torch.long)

    def update(self, probs, labels) -> "ClassMeans":
        p = _as_probs(probs, "probs")
        y = torch.as_tensor(labels, dtype=torch.long).flatten().cpu()
        if y.numel() != p.shape[0]:
            raise LotusError(f"{p.shape[0]} probability rows but {y.numel()} labels")
        if self.num_outputs is None:
            self.num_outputs = p.shape[1]
        if p.shape[1] != self.num_outputs:
            raise LotusError(f"a batch has {p.shape[1]} columns, earlier ones {self.num_outputs}")
        if y.numel() and (y.min() < 0 or y.max() >= self.num_classes):
            raise LotusError(f"labels must lie in [0, {self.num_classes})")
        if self.sums is None:
            self.sums = torch.zeros(self.num_classes, self.num_outputs, dtype=torch.float64)
        self.sums.index_add_(0, y, p.cpu())
        self.counts += torch.bincount(y, minlength=self.num_classes)
        return self

    def means(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sums is None:
            raise LotusError("no predictions were added")
        norm = self.sums.sum(dim=1, keepdim=True)
        means = torch.where(norm > 0, self.sums / norm.clamp_min(1e-300), self.sums)
        return means, self.counts.clone()


def class_mean_probs(probs, labels, num_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class mean of probability rows, L1-normalised.

    Returns ``(means [C, K], counts [C])`` with ``C = num_classes`` (default ``K``); rows of
    absent classes are zero. O(N K) with ``index_add_`` (:class:`ClassMeans` on one batch).
    """
    p = _as_probs(probs, "probs")
    return ClassMeans(int(num_classes or p.shape[1]), p.shape[1]).update(p, labels).means()


def rf_jsd_from_means(forget_means, forget_counts, ref_means, ref_counts, *, legacy: bool = False) -> float:
    """RF-JSD from class means (:class:`ClassMeans` of the forget and the reference set):
    the mean JS divergence over the classes present in the forget set (see :func:`rf_jsd`)."""
    present = forget_counts > 0
    missing = (present & (ref_counts == 0)).nonzero().flatten().tolist()
    if missing:
        raise LotusError(f"class(es) {missing[:10]} occur in the forget set but have no reference sample")
    if not bool(present.any()):
        raise LotusError("the forget set has no sample")
    return js_divergence(forget_means[present], ref_means[present], legacy=legacy)


def rf_jsd(forget_probs, forget_labels, ref_probs, ref_labels, *, legacy: bool = False) -> float:
    """Retrain-free JSD (the paper's RF-JSD, spec 4.4).

    ``forget_probs``: the unlearned model's softmax on the forget set; ``ref_probs``: the
    original model's softmax on a reference set of unseen samples (the paper's D_u; the
    authors' code uses the test set). For every class c present in the forget set, P_c and
    Q_c are the L1-normalised class-mean predictions; the result is the mean over those
    classes of JS(P_c || Q_c). A forget class with no reference sample is an error.
    :func:`rf_jsd_streamed` computes the same from batches.
    """
    fp = _as_probs(forget_probs, "forget_probs")
    rp = _as_probs(ref_probs, "ref_probs")
    if fp.shape[1] != rp.shape[1]:
        raise LotusError(f"forget and reference probabilities have {fp.shape[1]} and {rp.shape[1]} classes")
    k = fp.shape[1]
    pm, pc = class_mean_probs(fp, forget_labels, k)
    qm, qc = class_mean_probs(rp, ref_labels, k)
    return rf_jsd_from_means(pm, pc, qm, qc, legacy=legacy)


def rf_jsd_streamed(forget_batches, ref_batches, num_classes: int, *, legacy: bool = False) -> float:
    """:func:`rf_jsd` from iterables of ``(probs [B, K], labels [B])`` batches (e.g. one
    inference pass per set at ImageNet scale): only ``2 x C x K`` float64 sums are kept, never
    all predictions."""
    sides = []
    for batches in (forget_batches, ref_batches):
        acc = ClassMeans(num_classes)
        for probs, labels in batches:
            acc.update(probs, labels)
        sides.append(acc.means())
    (pm, pc), (qm, qc) = sides
    if pm.shape != qm.shape:
        raise LotusError(f"forget and reference probabilities have {pm.shape[1]} and {qm.shape[1]} classes")
    return rf_jsd_from_means(pm, pc, qm, qc, legacy=legacy)


def mia_entropy(member_probs, nonmember_probs, target_probs, *, random_state: int = 42) -> float:
    """The paper's entropy membership-inference attack (spec 4.2).

    A class-balanced logistic regression on the output entropy is fit to separate members
    (retain set, label 1) from non-members (test + val, label 0), then applied to the target
    (forget) set. Returns the fraction of target samples predicted "member" in ``[0, 1]``.
    """
    from sklearn.linear_model import LogisticRegression

    em = entropy(member_probs).double().numpy()
    en = entropy(nonmember_probs).double().numpy()
    et = entropy(target_probs).double().numpy()
    x = np.concatenate([em, en])[:, None]
    y = np.concatenate([np.ones_like(em), np.zeros_like(en)])
    clf = LogisticRegression(class_weight="balanced", solver="lbfgs", random_state=random_state)
    clf.fit(x, y)
    return float(clf.predict(et[:, None]).mean())


def zrf(unlearned_probs, reference_probs) -> float:
    """Zero Retrain Forgetting score (Chundawat et al. 2023): ``1 - mean JS`` between the
    unlearned model's and a reference model's predictions on the forget set. With a randomly
    initialised reference model (the original definition), 1 means "as ignorant as a random
    model". The authors' unused ``log_zrf`` uses the gold model as reference."""
    return 1.0 - js_divergence(unlearned_probs, reference_probs)


def avg_gap(scores: dict, gold: dict, keys=AVG_GAP_KEYS) -> float:
    """Mean absolute gap to the gold standard over MIA, forget, retain and test accuracy."""
    missing = [k for k in keys if k not in scores or k not in gold]
    if missing:
        raise LotusError(f"avg_gap needs keys {list(keys)}; missing {missing}")
    return float(np.mean([abs(float(scores[k]) - float(gold[k])) for k in keys]))


def pearson(x, y) -> tuple[float, float]:
    """Pearson correlation ``(r, two-sided p-value)`` of two equal-length sequences."""
    from scipy.stats import pearsonr

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise LotusError(f"pearson needs two 1-D sequences of equal length >= 3, got {x.shape} and {y.shape}")
    r, p = pearsonr(x, y)
    return float(r), float(p)


# ---------------------------------------------------------------------------------------
# Model-level helpers
# ---------------------------------------------------------------------------------------


def uses_channels_last(model: torch.nn.Module, channels_last: bool | None = None) -> bool:
    """Whether to feed ``model`` channels-last (NHWC) batches: ``channels_last`` when given,
    else (``None``, auto) for the convolutional networks of the registry (family ``"cnn"``,
    made by :func:`lotus.create_model`), where it is 1.3-1.7x faster on CPUs with the same
    values up to float rounding; never for other models (a model of one's own may
    ``view`` its input)."""
    if channels_last is not None:
        return bool(channels_last)
    cfg = getattr(model, "lotus_config", None) or {}
    return "name" in cfg and model_family(model) == "cnn"


def predict(model: torch.nn.Module, split: ImageSplit, *, device=None, batch_size: int = 512,
            amp: bool = False, num_workers: int = 0, channels_last: bool | None = None, logits_fn=None,
            preprocess=None, input_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched inference pass: ``(probs float32 [N, K] on CPU, labels int64 [N])``.

    The model is put in eval mode (its previous mode is restored afterwards), runs under
    ``torch.inference_mode()`` and optional bf16 autocast; softmax is taken in float32.
    ``device`` defaults to the model's. The model is seen through
    :func:`lotus.models.as_classifier` (``logits_fn``, ``preprocess``, ``input_size``): models
    returning tuples, dicts or Hugging Face outputs work as they are. ``channels_last`` (``None``:
    :func:`uses_channels_last` of ``model``) feeds NHWC batches; the model itself is not changed.

    Under ``torchrun`` (:mod:`lotus.distributed`) every rank predicts its contiguous share of
    ``split`` and the probabilities are gathered: every rank returns all ``N`` rows in split
    order, so every metric computed from them is the one-process value. Every rank must call it.
    """
    kw = dict(device=device, batch_size=batch_size, amp=amp, num_workers=num_workers, channels_last=channels_last,
              logits_fn=logits_fn, preprocess=preprocess, input_size=input_size, num_classes=split.num_classes)
    ctx = current()
    if ctx.enabled:
        lo, hi = shard_range(len(split), ctx)
        probs = _predict_local(model, split.subset(torch.arange(lo, hi)), **kw)  # an empty share joins the gather too
        return all_gather_rows(probs, what="gathering predictions", ctx=ctx), split.labels.clone()
    return _predict_local(model, split, **kw), split.labels.clone()


def _predict_local(model, split, *, device, batch_size, amp, num_workers, channels_last, logits_fn, preprocess,
                   input_size, num_classes) -> torch.Tensor:
    """:func:`predict`'s probabilities ``float32 [n, K]`` (CPU) for ``split`` in this process alone."""
    net = as_classifier(model, logits_fn=logits_fn, preprocess=preprocess, input_size=input_size)
    if device is not None:
        dev = resolve_device(device)
    else:
        dev = next(iter(net.parameters()), torch.empty(0)).device
    nhwc = uses_channels_last(model, channels_last)
    was_training = net.training
    net.eval()
    net.to(dev)
    out = []
    try:
        with torch.inference_mode():
            for x, _ in split.batches(batch_size, device=dev, num_workers=num_workers, channels_last=nhwc):
                with autocast(dev, amp):
                    logits = net(x)
                out.append(torch.softmax(logits.float(), dim=1).cpu())
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, num_classes)


def accuracy(model: torch.nn.Module, split: ImageSplit, *, device=None, batch_size: int = 512,
             amp: bool = False, channels_last: bool | None = None, **adapter) -> float:
    """Top-1 accuracy in ``[0, 1]`` (unrounded) of ``model`` on ``split`` (``adapter``:
    ``logits_fn`` / ``preprocess`` / ``input_size`` of :func:`predict`)."""
    probs, labels = predict(model, split, device=device, batch_size=batch_size, amp=amp, channels_last=channels_last, **adapter)
    return float((probs.argmax(dim=1) == labels).float().mean())


def evaluate(
    model: torch.nn.Module,
    splits: UnlearningSplits,
    *,
    original: torch.nn.Module | None = None,
    gold: torch.nn.Module | None = None,
    device=None,
    batch_size: int = 512,
    amp: bool = False,
    legacy: bool = False,
    rf_jsd_reference: str = "val",
    return_predictions: bool = False,
    reference_cache: dict | None = None,
    channels_last: bool | None = None,
    logits_fn=None,
    preprocess=None,
    input_size: int | None = None,
):
    """All the paper's metrics for ``model`` on ``splits``, as plain unrounded floats.

    Keys: ``acc_forget, acc_retain, acc_test, acc_val`` (top-1 accuracy), ``mia`` (fraction
    of forget samples the entropy attack calls members; members = retain, non-members =
    test + val), ``rf_jsd`` (vs ``original`` on the reference split; with no ``original``
    the model is its own reference, as the authors do for the original model) and ``jsd``
    (textbook JS to ``gold`` on the forget set, only when ``gold`` is given), plus
    ``rf_jsd_legacy`` and ``jsd_legacy``: the same divergences with the authors' formula
    (spec 4.3-4.4), computed from the same predictions.

    ``rf_jsd_reference``: ``"val"`` (the unseen set D_u, the paper's definition) or
    ``"test"`` (the authors' code). ``legacy=True`` puts the authors' formula under the
    plain names too. ``reference_cache``: a dict the caller keeps between calls with the same
    ``original``/``gold``; their predictions are stored there and not recomputed. With
    ``return_predictions=True`` returns ``(metrics, predictions)`` where
    ``predictions[split] = (probs, labels)`` of ``model``. ``channels_last``: NHWC batches
    (``None``: auto, see :func:`uses_channels_last`); like ``amp`` and ``batch_size`` a speed
    option only.

    ``logits_fn`` / ``preprocess`` / ``input_size``: how to read ``model``, ``original`` and
    ``gold`` as classifiers (:func:`lotus.models.as_classifier`; they share one architecture).
    ``device`` defaults to the model's when it sits on an accelerator, else CUDA if available.
    A model whose output does not fit the splits (wrong number of classes, wrong input size)
    is a :class:`LotusError` before any pass over the data.
    """
    if rf_jsd_reference not in ("val", "test"):
        raise LotusError(f"rf_jsd_reference must be 'val' or 'test', got {rf_jsd_reference!r}")
    if not isinstance(splits, UnlearningSplits):
        raise LotusError(f"splits must be an UnlearningSplits (lotus.load_splits, UnlearningSplits.from_dataset(s)), "
                         f"got {type(splits).__name__}")
    same = original is None or original is model

    def wrap(m):
        return as_classifier(m, logits_fn=logits_fn, preprocess=preprocess, input_size=input_size)

    model = wrap(model)
    original = None if same else wrap(original)
    gold = wrap(gold) if gold is not None else None
    dev = model_device(model, device)
    model.to(dev)
    check_classifier(model, next(splits.forget.batches(2, device=dev))[0], splits.num_classes)
    kw = dict(device=dev, batch_size=batch_size, amp=amp)
    cache = reference_cache if reference_cache is not None else {}
    preds = {name: predict(model, splits[name], channels_last=channels_last, **kw)
             for name in ("forget", "retain", "test", "val")}
    res = {f"acc_{name}": float((p.argmax(1) == y).float().mean()) for name, (p, y) in preds.items()}
    nonmember = torch.cat([preds["test"][0], preds["val"][0]])
    res["mia"] = mia_entropy(preds["retain"][0], nonmember, preds["forget"][0])
    if original is None:
        ref_probs, ref_labels = preds[rf_jsd_reference]
    else:
        key = ("original", rf_jsd_reference, batch_size, amp)
        if key not in cache:
            cache[key] = predict(original, splits[rf_jsd_reference], channels_last=channels_last, **kw)
        ref_probs, ref_labels = cache[key]
    forget_probs, forget_labels = preds["forget"]
    for suffix, leg in (("", legacy), ("_legacy", True)):
        res[f"rf_jsd{suffix}"] = rf_jsd(forget_probs, forget_labels, ref_probs, ref_labels, legacy=leg)
    if gold is not None:
        key = ("gold", "forget", batch_size, amp)
        if key not in cache:
            cache[key] = predict(gold, splits.forget, channels_last=channels_last, **kw)[0]
        for suffix, leg in (("", legacy), ("_legacy", True)):
            res[f"jsd{suffix}"] = js_divergence(forget_probs, cache[key], legacy=leg)
    return (res, preds) if return_predictions else res


# ---------------------------------------------------------------------------------------
# Retrain-free scoring of saved models
# ---------------------------------------------------------------------------------------

#: what :func:`score_checkpoint` reports per model (``lotus score`` prints these columns)
SCORE_KEYS = ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "rf_jsd")


def read_indices(path: str | os.PathLike) -> torch.Tensor:
    """Read a forget list: ``LongTensor`` of positions in the training set (or a boolean mask).

    ``.npy`` (an int array or a boolean mask), ``.pt`` / ``.pth`` (a tensor, read with
    ``weights_only=True``), ``.json`` (a list), anything else text: integers separated by
    white space or commas, ``#`` starting a comment.
    """
    path = Path(path)
    if not path.is_file():
        raise LotusError(f"forget list {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            t = torch.as_tensor(np.load(path, allow_pickle=False))
        elif suffix in (".pt", ".pth"):
            t = torch.load(path, map_location="cpu", weights_only=True)
        elif suffix == ".json":
            t = torch.as_tensor(json.loads(path.read_text(encoding="utf-8")))
        else:
            text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
            t = torch.tensor([int(v) for v in text.replace(",", " ").split()], dtype=torch.long)
    except (ValueError, TypeError, RuntimeError, OSError, json.JSONDecodeError) as exc:
        raise LotusError(f"cannot read the forget list {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or not (t.dtype == torch.bool or not t.is_floating_point()):
        raise LotusError(f"the forget list {path} must hold a 1-D list of integer positions or a boolean mask")
    if t.numel() == 0:
        raise LotusError(f"the forget list {path} is empty")
    return t if t.dtype == torch.bool else t.long()


def score_checkpoint(
    original,
    unlearned,
    data: "str | UnlearningSplits" = "digits",
    *,
    forget=None,
    unseen=None,
    seed: int = 0,
    model=None,
    model_kwargs: dict | None = None,
    device=None,
    batch_size: int = 512,
    amp: bool = False,
    legacy: bool = False,
    logits_fn=None,
    preprocess=None,
    input_size: int | None = None,
    **data_options,
) -> dict:
    """Retrain-free evaluation of an unlearned model against its original: RF-JSD, accuracies
    and MIA, with no gold model (spec 4.4).

    Parameters
    ----------
    original, unlearned : ``nn.Module`` s or model files (:func:`lotus.models.load_model_file`: a
        checkpoint of ``lotus train``, a state dict with ``model=...``, TorchScript, ``torch.export``).
    data : an :class:`~lotus.data.UnlearningSplits` (e.g. from ``UnlearningSplits.from_dataset``),
        or the name of a data source for :func:`lotus.load_splits`, which then reads ``forget``
        (a spec, a list of positions, or the path of a file for :func:`read_indices`), ``unseen``
        (an image folder replacing D_u), ``seed`` and ``data_options`` (``root``, source options).
    model, model_kwargs : the architecture of state-dict files (:func:`lotus.models.load_model_file`).
    logits_fn, preprocess, input_size : how to read the models as classifiers
        (:func:`lotus.models.as_classifier`).

    Returns
    -------
    ``{"unlearned": {...}, "original": {...}, "dataset", "forget", "seed", "sizes"}``: per model the
    :data:`SCORE_KEYS` plus ``rf_jsd_legacy`` (floats). ``rf_jsd`` compares each model's
    class-mean predictions on the forget set with the *original* model's on the unseen set D_u;
    the original's own value is the level before unlearning.
    """
    if isinstance(data, UnlearningSplits):
        if forget is not None or unseen is not None or data_options:
            raise LotusError("forget / unseen / data options belong to lotus.load_splits; the given splits hold them already")
        splits = data
    else:
        if isinstance(forget, (str, os.PathLike)) and Path(forget).is_file():
            forget = read_indices(forget)
        splits = load_splits(str(data), forget=forget, seed=seed, unseen=unseen, **data_options)

    def load(m, what):
        if isinstance(m, torch.nn.Module):
            return m
        if isinstance(m, (str, os.PathLike)):
            return load_model_file(m, model=model, num_classes=splits.num_classes, model_kwargs=model_kwargs)
        raise LotusError(f"{what} must be an nn.Module or a model file, got {type(m).__name__}")

    orig, unl = load(original, "original"), load(unlearned, "unlearned")
    kw = dict(device=device, batch_size=batch_size, amp=amp, legacy=legacy, logits_fn=logits_fn,
              preprocess=preprocess, input_size=input_size)
    cache: dict = {}
    m_orig, preds = evaluate(orig, splits, return_predictions=True, **kw)
    cache[("original", "val", batch_size, amp)] = preds["val"]  # reused as the unlearned model's reference
    m_unl = evaluate(unl, splits, original=orig, reference_cache=cache, **kw)
    keys = (*SCORE_KEYS, "rf_jsd_legacy")
    return {"unlearned": {k: m_unl[k] for k in keys}, "original": {k: m_orig[k] for k in keys},
            "dataset": splits.dataset, "forget": splits.forget_spec, "seed": splits.seed, "sizes": splits.sizes(),
            "unseen": str(splits.source.get("unseen", "half of the held-out set"))}
