"""Running under ``torchrun``: the process group, sharded batches and reductions.

Single-process use is the default and is unchanged: without a process group,
:func:`current` is the one-process :class:`Context` (rank 0 of 1), :meth:`Context.wrap` returns
the model itself, :func:`global_batches` yields the batches of ``split.batches`` with weight 1
and every reduction returns its input.

Under ``torchrun --nproc_per_node N`` (or any launcher that sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``) :func:`init_from_env` starts the process group
(NCCL on CUDA, else gloo) with a timeout on every collective (``$LOTUS_DIST_TIMEOUT`` seconds,
default :data:`DEFAULT_TIMEOUT_S`), so that a rank that died makes the others fail with a
:class:`~lotus.utils.LotusError` instead of waiting forever. A process group started by the
caller (``torch.distributed.init_process_group``) is used as it is.

The contracts the training loops, the metrics and the writers rely on:

* **One global sample stream.** Every rank draws the same shuffled order (and the same
  augmentation and noise) from the same seeded generator as one process would, and takes its
  contiguous share of each global batch (:func:`batch_rows`: sizes differ by at most one). The
  global batch size is unchanged. A rank's loss is weighted by ``N * n_rank / n_batch``
  (:meth:`Rows.scale`), so the gradient DistributedDataParallel averages equals the gradient
  of the global batch mean, also when a batch does not divide by ``N``; a rank with no share of
  a last, small batch takes a placeholder row of weight 0. What still differs from one process:
  float reduction order, and BatchNorm statistics in training mode, computed per rank as in any
  DDP training (the ViTs have none); after training steps :func:`sync_buffers` gives every rank
  rank 0's running statistics, so all ranks hold one model.
* **Metrics on the full sets.** :func:`lotus.metrics.predict` lets every rank predict its
  contiguous share of a split and gathers the probabilities (:func:`all_gather_rows`), in
  split order, on every rank: accuracies, the MIA (fit on the gathered entropies) and RF-JSD
  are then those of one process. A model's outputs in eval mode do not depend on the other
  samples of its batch, so the numbers agree to float rounding.
* **Rank 0 writes.** :func:`on_main` runs a write on rank 0 only; the others wait for its
  outcome and raise a :class:`~lotus.utils.LotusError` if it failed. :func:`decide` makes a
  choice (e.g. "is this checkpoint cached?") on rank 0 and gives it to every rank.

Every rank must make the same calls in the same order (unlearn, evaluate, train): a collective
that one rank skips is a wait that ends with the timeout's error.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn

from .utils import LotusError, check_finite, env_int

__all__ = [
    "Context",
    "Rows",
    "DEFAULT_TIMEOUT_S",
    "TIMEOUT_ENV",
    "current",
    "init_from_env",
    "shutdown",
    "local_only",
    "batch_rows",
    "shard_range",
    "global_batches",
    "all_reduce_sum",
    "all_gather_rows",
    "broadcast_object",
    "barrier",
    "sync_buffers",
    "average_gradients",
    "end_epoch",
    "EpochSteps",
    "on_main",
    "decide",
    "guard",
    "check_supported",
]

#: seconds a collective waits for the other ranks before the job fails (``$LOTUS_DIST_TIMEOUT``)
DEFAULT_TIMEOUT_S = 300
TIMEOUT_ENV = "LOTUS_DIST_TIMEOUT"
#: the variables a launcher (torchrun, srun + torchrun) sets for every process
_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` in ``[0, world_size)``, ``local_rank`` on its node,
    the ``backend`` (``None`` without a process group) and the collective ``timeout_s``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    timeout_s: float | None = None

    @property
    def enabled(self) -> bool:
        """Whether several processes work together (a process group of more than one rank)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes results and checkpoints and prints."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """This rank's device (the CUDA device numbered ``local_rank`` with NCCL, else the CPU)."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    @property
    def shard(self) -> tuple[int, int] | None:
        """``(rank, world_size)`` for ``ImageSplit.batches(shard=...)``; ``None`` in one process."""
        return (self.rank, self.world_size) if self.enabled else None

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in :class:`torch.nn.parallel.DistributedDataParallel` when several ranks
        train together (gradients averaged over ranks in ``backward``), else ``model`` itself.
        The wrapper shares the model's parameters: optimise ``model.parameters()`` and keep
        using ``model`` (unwrapped) for evaluation."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        dev = next(iter(model.parameters()), torch.empty(0)).device
        ids = [dev] if dev.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, output_device=dev if ids else None)


SINGLE = Context()
_LOCAL_DEPTH = 0


def current() -> Context:
    """This process's :class:`Context`: from the initialised process group, else one process
    (also inside :func:`local_only`)."""
    if _LOCAL_DEPTH or not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return SINGLE
    dist = torch.distributed
    world = dist.get_world_size()
    if world <= 1:
        return SINGLE
    return Context(rank=dist.get_rank(), world_size=world, local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                   backend=str(dist.get_backend()), timeout_s=_CONFIGURED_TIMEOUT)


@contextlib.contextmanager
def local_only():
    """Inside this block :func:`current` is one process: code that only this rank runs (e.g. a
    plot on rank 0) predicts and trains on its own, without collectives."""
    global _LOCAL_DEPTH
    _LOCAL_DEPTH += 1
    try:
        yield
    finally:
        _LOCAL_DEPTH -= 1


_CONFIGURED_TIMEOUT: float | None = None


def _timeout_from(timeout_s) -> float:
    source = "timeout_s"
    if timeout_s is None:
        env = os.environ.get(TIMEOUT_ENV, "").strip()
        if not env:
            return float(DEFAULT_TIMEOUT_S)
        timeout_s, source = env, f"${TIMEOUT_ENV}"
    try:
        value = float(timeout_s)
    except (TypeError, ValueError):
        raise LotusError(f"{source} must be a number of seconds > 0, got {timeout_s!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise LotusError(f"{source} must be a number of seconds > 0, got {timeout_s!r}")
    return value


def init_from_env(backend: str | None = None, timeout_s: float | None = None) -> Context:
    """Start the process group when a launcher asked for several processes, and return the
    :class:`Context`.

    Nothing happens (one process, no process group) unless ``$WORLD_SIZE`` is above 1. Then
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` must be set (torchrun sets them
    all); ``backend`` defaults to ``"nccl"`` when CUDA is available, else ``"gloo"``; with NCCL
    the rank's GPU (``cuda:LOCAL_RANK``) becomes the current device. ``timeout_s`` (default
    ``$LOTUS_DIST_TIMEOUT``, else :data:`DEFAULT_TIMEOUT_S`) bounds every collective: a rank
    that died or hangs makes the others fail with a :class:`LotusError` after at most that long.
    A process group that is already initialised is kept as it is.
    """
    global _CONFIGURED_TIMEOUT
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return current()
    world = env_int("WORLD_SIZE")
    if world is None or world <= 1:
        return SINGLE
    missing = [k for k in _ENV if not os.environ.get(k, "").strip()]
    if missing:
        raise LotusError(f"$WORLD_SIZE={world} asks for several processes but {', '.join('$' + k for k in missing)} "
                         "is not set; start the job with torchrun (see the install page of the book)")
    if not dist.is_available():
        raise LotusError("this PyTorch build has no torch.distributed; run in one process (unset $WORLD_SIZE)")
    timeout = _timeout_from(timeout_s)
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in ("nccl", "gloo"):
        raise LotusError(f"backend must be 'nccl' or 'gloo', got {backend!r}")
    local_rank = int(os.environ["LOCAL_RANK"])
    if backend == "nccl":
        if not torch.cuda.is_available() or local_rank >= torch.cuda.device_count():
            raise LotusError(f"backend nccl needs a GPU for local rank {local_rank}; "
                             f"{torch.cuda.device_count()} visible (use --nproc_per_node <= the GPUs of a node)")
        torch.cuda.set_device(local_rank)
    try:
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout))
    except Exception as exc:  # noqa: BLE001 - rendezvous failures come in many types
        raise LotusError(f"rank {os.environ['RANK']}: could not join the process group of {world} processes at "
                         f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} ({backend}): "
                         f"{_first_line(exc)}") from exc
    _CONFIGURED_TIMEOUT = timeout
    return current()


def shutdown() -> None:
    """Destroy the process group (if any); :func:`current` is then one process again."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _dist_error(what: str, exc: BaseException, ctx: Context) -> LotusError:
    limit = f"{ctx.timeout_s:g} s" if ctx.timeout_s else "the process group's timeout"
    return LotusError(
        f"rank {ctx.rank} of {ctx.world_size}: {what} failed: another rank stopped, failed or did not "
        f"answer within {limit} (${TIMEOUT_ENV}); every rank must run the same steps. Cause: {_first_line(exc)}")


def _collective(what: str, fn: Callable[[], Any], ctx: Context) -> Any:
    """Run a collective; a failure (a rank died, the timeout passed) is a :class:`LotusError`."""
    try:
        return fn()
    except RuntimeError as exc:  # DistBackendError, gloo / NCCL errors, timeouts
        raise _dist_error(what, exc, ctx) from exc


_DIST_WORDS = ("gloo", "Gloo", "NCCL", "nccl", "onnection", "Timed out", "timed out", "closed by peer", "Socket")


@contextlib.contextmanager
def guard(what: str, ctx: Context | None = None):
    """Turn a failing collective inside the block (e.g. DDP's gradient all-reduce in
    ``backward``) into the same :class:`LotusError` as :func:`all_reduce_sum` and friends give;
    other errors pass unchanged. Does nothing in one process."""
    ctx = ctx or current()
    if not ctx.enabled:
        yield
        return
    try:
        yield
    except RuntimeError as exc:
        if isinstance(exc, getattr(torch.distributed, "DistError", ())) or any(w in str(exc) for w in _DIST_WORDS):
            raise _dist_error(what, exc, ctx) from exc
        raise


# ---------------------------------------------------------------------------------------
# Sharding
# ---------------------------------------------------------------------------------------


def batch_rows(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of a batch of ``n`` rows that ``rank`` of ``world_size`` takes:
    contiguous shares whose sizes differ by at most one, the larger ones first (an empty share,
    ``lo == hi``, when ``n < world_size``)."""
    base, extra = divmod(int(n), int(world_size))
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def shard_range(n: int, ctx: Context | None = None) -> tuple[int, int]:
    """This rank's contiguous share ``[lo, hi)`` of ``n`` positions (``(0, n)`` in one process)."""
    ctx = ctx or current()
    return batch_rows(n, ctx.rank, ctx.world_size) if ctx.enabled else (0, int(n))


@dataclass(frozen=True)
class Rows:
    """This rank's share of one global batch: rows ``[lo, hi)`` of ``total``, ``count`` real
    rows (0 for a placeholder row) and the loss ``weight`` ``world_size * count / total``."""

    lo: int
    hi: int
    total: int
    count: int
    weight: float
    world_size: int = 1

    @property
    def select(self) -> slice:
        """The rows of this rank within anything drawn for the whole global batch (noise, ...)."""
        return slice(self.lo, self.hi) if self.count else slice(0, 1)

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` (a mean over this rank's rows) weighted so that DDP's average over ranks is
        the mean over the global batch; ``loss`` itself in one process."""
        return loss if self.world_size == 1 else loss * self.weight


def global_batches(split, batch_size: int, *, ctx: Context | None = None, **kwargs):
    """``(x, y, idx, rows)`` for this rank's share of every global batch of
    ``split.batches(batch_size, with_index=True, **kwargs)`` (same order, augmentation and
    global batch size as one process; ``rows``: :class:`Rows`). In one process these are the
    batches of ``split.batches`` themselves, with ``rows.count`` the batch size."""
    ctx = ctx or current()
    if kwargs.get("drop_last"):
        raise LotusError("global_batches does not drop the last batch")
    n, bs = len(split), int(batch_size)
    if not ctx.enabled:
        for x, y, idx in split.batches(bs, with_index=True, **kwargs):
            yield x, y, idx, Rows(0, y.numel(), y.numel(), y.numel(), 1.0)
        return
    if bs < ctx.world_size:
        raise LotusError(f"the batch size ({bs}) is smaller than the number of processes ({ctx.world_size}); "
                         "every rank needs a share of every batch")
    for step, (x, y, idx) in enumerate(split.batches(bs, with_index=True, shard=ctx.shard, **kwargs)):
        total = min(bs, n - step * bs)
        lo, hi = batch_rows(total, ctx.rank, ctx.world_size)
        count = hi - lo
        yield x, y, idx, Rows(lo, hi, total, count, ctx.world_size * count / total, ctx.world_size)


# ---------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------


def _comm_device(ctx: Context) -> torch.device:
    return ctx.device


def all_reduce_sum(t: torch.Tensor, *, what: str = "a sum over ranks", ctx: Context | None = None) -> torch.Tensor:
    """The element-wise sum of ``t`` over ranks (a new tensor on ``t``'s device; ``t`` itself in
    one process)."""
    ctx = ctx or current()
    if not ctx.enabled:
        return t
    buf = t.detach().to(_comm_device(ctx), copy=True)
    _collective(what, lambda: torch.distributed.all_reduce(buf), ctx)
    return buf.to(t.device)


def all_gather_rows(t: torch.Tensor, *, what: str = "gathering rows", ctx: Context | None = None) -> torch.Tensor:
    """Every rank's ``t`` (``[n_rank, ...]``, ``n_rank`` may differ between ranks) concatenated
    along dim 0 in rank order, on every rank (on ``t``'s device); ``t`` itself in one process."""
    ctx = ctx or current()
    if not ctx.enabled:
        return t
    dev = _comm_device(ctx)
    x = t.detach().to(dev)
    size = torch.tensor([x.shape[0]], dtype=torch.long, device=dev)
    sizes = [torch.zeros_like(size) for _ in range(ctx.world_size)]
    _collective(what, lambda: torch.distributed.all_gather(sizes, size), ctx)
    counts = [int(s) for s in sizes]
    m = max(counts)
    if x.shape[0] < m:
        x = torch.cat([x, x.new_zeros((m - x.shape[0], *x.shape[1:]))])
    parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
    _collective(what, lambda: torch.distributed.all_gather(parts, x.contiguous()), ctx)
    return torch.cat([p[:c] for p, c in zip(parts, counts)]).to(t.device)


def broadcast_object(obj: Any = None, *, src: int = 0, what: str = "a broadcast", ctx: Context | None = None) -> Any:
    """Rank ``src``'s ``obj`` (any picklable object) on every rank; ``obj`` in one process."""
    ctx = ctx or current()
    if not ctx.enabled:
        return obj
    box = [obj if ctx.rank == src else None]
    dev = ctx.device if ctx.backend == "nccl" else None
    _collective(what, lambda: torch.distributed.broadcast_object_list(box, src=src, device=dev), ctx)
    return box[0]


def sync_buffers(model: nn.Module, *, what: str = "sharing rank 0's buffers", ctx: Context | None = None) -> None:
    """Give every rank rank 0's buffers of ``model`` (BatchNorm running statistics), in place.

    DDP keeps parameters equal on every rank, but a training forward updates each rank's
    running statistics from its own share of the batch; call this after training steps so that
    all ranks hold rank 0's model (the one it saves) before they evaluate it together."""
    ctx = ctx or current()
    if not ctx.enabled:
        return
    dev = _comm_device(ctx)
    for buf in model.buffers():
        if buf.numel() == 0:
            continue
        tmp = buf.detach().to(dev, copy=True)
        _collective(what, lambda t=tmp: torch.distributed.broadcast(t, src=0), ctx)
        with torch.no_grad():
            buf.copy_(tmp.to(buf.device))


def average_gradients(model: nn.Module, *, what: str = "averaging gradients", ctx: Context | None = None) -> None:
    """Replace every parameter's ``.grad`` by its mean over ranks, in place (what DDP does in
    ``backward``), for loops that call the model several times before one ``backward`` (which
    DDP does not allow). Nothing in one process."""
    ctx = ctx or current()
    if not ctx.enabled:
        return
    params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
    if not params:
        return
    flat = all_reduce_sum(torch.cat([p.grad.detach().float().flatten() for p in params]), what=what, ctx=ctx)
    flat /= ctx.world_size
    for p, part in zip(params, torch.split(flat, [p.numel() for p in params])):
        p.grad.copy_(part.view_as(p.grad))


def end_epoch(model: nn.Module, total: float, count: float, *, what: str, ctx: Context | None = None) -> float:
    """The epoch's mean loss ``total / count`` over every rank (``total``: this rank's sum of
    per-sample losses over its ``count`` real rows), after :func:`sync_buffers` has given every
    rank rank 0's BatchNorm statistics. In one process: ``total / max(count, 1)``."""
    ctx = ctx or current()
    if ctx.enabled:
        sync_buffers(model, what=f"{what}: sharing rank 0's BatchNorm statistics", ctx=ctx)
        total, count = all_reduce_sum(torch.tensor([total, float(count)], dtype=torch.float64),
                                      what=f"{what}: the epoch's loss", ctx=ctx).tolist()
    return total / max(count, 1)


class EpochSteps:
    """The optimiser steps of one epoch, and their mean loss over every rank.

    Every training loop of the package (``lotus.train.fit`` and the unlearning methods) takes
    its steps through :meth:`step`, so a step means the same thing everywhere::

        steps = EpochSteps(model, optimizer, f"scrub min-step: epoch {epoch}")
        for x, y, idx, rows in global_batches(...):
            steps.step(loss_of(x, y), rows)
        mean_loss = steps.mean()

    ``model``: the module whose BatchNorm statistics :func:`end_epoch` shares (not its
    DistributedDataParallel wrapper); ``what``: names the epoch in the error a non-finite loss
    raises ("non-finite loss (nan) in <what>, step 3; ..."); ``grad_hook(model)``: runs between
    ``backward`` and the optimiser step (SalUn's saliency mask).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, what: str, *,
                 grad_hook: Callable[[nn.Module], None] | None = None, ctx: Context | None = None):
        self.model, self.optimizer, self.what, self.grad_hook = model, optimizer, what, grad_hook
        self.ctx = ctx or current()
        self.total, self.count, self.steps = 0.0, 0, 0

    def step(self, loss: torch.Tensor, rows: Rows, *, sign: int = 1) -> None:
        """One step on ``loss``, this rank's mean loss over its ``rows.count`` rows of the global
        batch (a scalar tensor): fail on a non-finite loss, zero the gradients, back-propagate
        ``rows.scale(loss)`` (negated for ``sign=-1``: gradient ascent), run ``grad_hook``, step
        the optimiser and add the loss, weighted by ``rows.count``, to the epoch's total."""
        check_finite(loss, where=f"{self.what}, step {self.steps}")
        self.optimizer.zero_grad(set_to_none=True)
        scaled = rows.scale(loss)
        (scaled if sign == 1 else sign * scaled).backward()
        if self.grad_hook is not None:
            self.grad_hook(self.model)
        self.optimizer.step()
        self.total += float(loss.detach()) * rows.count
        self.count += rows.count
        self.steps += 1

    def mean(self) -> float:
        """The epoch's mean loss per sample over every rank (:func:`end_epoch`)."""
        return end_epoch(self.model, self.total, self.count, what=self.what, ctx=self.ctx)


def barrier(what: str = "waiting for every rank", ctx: Context | None = None) -> None:
    """Wait until every rank gets here (bounded by the collective timeout)."""
    ctx = ctx or current()
    if ctx.enabled:
        # a broadcast rather than dist.barrier: it honours the timeout on every backend
        broadcast_object(None, what=what, ctx=ctx)


def _rank0(fn: Callable[[], Any], what: str, ctx: Context, share: bool) -> Any:
    value, error = None, None
    if ctx.is_main:
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - told to the other ranks, then re-raised
            error = exc
    box = broadcast_object((value if share else None, None if error is None else _first_line(error)),
                           what=f"waiting for rank 0 ({what})", ctx=ctx)
    if error is not None:
        raise error
    if box[1] is not None:
        raise LotusError(f"rank {ctx.rank}: rank 0 failed {what}: {box[1]}")
    return value if ctx.is_main else box[0]


def on_main(fn: Callable[..., Any], *args, what: str = "writing", ctx: Context | None = None, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` on rank 0 only (its result there, ``None`` elsewhere); the other
    ranks wait for it. When it fails, rank 0 raises its error and every other rank a
    :class:`LotusError` naming ``what``, so no rank waits forever for a write that never came."""
    ctx = ctx or current()
    if not ctx.enabled:
        return fn(*args, **kwargs)
    return _rank0(lambda: fn(*args, **kwargs), what, ctx, share=False)


def decide(fn: Callable[[], Any], *, what: str = "a decision", ctx: Context | None = None) -> Any:
    """``fn()`` evaluated on rank 0 and given to every rank (e.g. whether a checkpoint is
    cached), so that all ranks take the same branch; ``fn()`` in one process. The value must
    be picklable."""
    ctx = ctx or current()
    if not ctx.enabled:
        return fn()
    return _rank0(fn, what, ctx, share=True)


def check_supported(method: str, supported: bool, ctx: Context | None = None) -> None:
    """A :class:`LotusError` naming ``method`` when several processes run a method whose
    statistics are not yet reduced across ranks (rather than silently per-rank results)."""
    ctx = ctx or current()
    if ctx.enabled and not supported:
        raise LotusError(f"method {method!r} does not run under torchrun yet ({ctx.world_size} processes): its loops "
                         "are not sharded across processes and its results would be per rank; run it in one process")
