"""Small shared helpers: errors, seeding, devices, autocast and atomic file writes."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _package_version() -> str:
    """The installed distribution's version (pyproject.toml is its one home)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lotus-unlearning")
    except PackageNotFoundError:  # run from a source tree that was never installed (e.g. PYTHONPATH)
        import re

        try:
            text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
        except OSError:
            return "0+unknown"
        m = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
        return m.group(1) if m else "0+unknown"


#: the version of the package (``lotus.__version__``), read from the installed metadata
VERSION = _package_version()


class LotusError(ValueError):
    """A user-facing error: bad input, missing data, mismatched checkpoint..."""


class NonFiniteLossError(FloatingPointError):
    """Raised when a training or unlearning loss becomes NaN or infinite."""


def check_finite(loss: torch.Tensor, *, where: str) -> None:
    """Raise :class:`NonFiniteLossError` if ``loss`` is NaN/inf. ``where`` names the place."""
    if not torch.isfinite(loss.detach()).all():
        raise NonFiniteLossError(
            f"non-finite loss ({loss.detach().float().item()}) in {where}; "
            "lower the learning rate or check the inputs"
        )


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU ``torch.Generator`` seeded with ``seed``."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def make_generator(seed: int, *salt: Any) -> torch.Generator:
    """A CPU generator derived from ``seed`` and a salt, independent of global RNG state."""
    import hashlib

    h = hashlib.sha256(repr((int(seed),) + tuple(salt)).encode()).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))
    return g


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> CUDA if available, else MPS, else CPU.

    A device this machine does not have (``"cuda"`` without CUDA, ``"cuda:3"`` with one GPU,
    ``"mps"`` off Apple silicon) or a name torch does not know is a :class:`LotusError`
    naming the devices that exist."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise LotusError(f"unknown device {device!r}; valid here: {', '.join(available_devices())}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise LotusError(f"device {device!r} requested but CUDA is not available; valid here: "
                             f"{', '.join(available_devices())}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise LotusError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s); valid here: {', '.join(available_devices())}")
    elif dev.type == "mps" and not _mps_available():
        raise LotusError(f"device {device!r} requested but MPS is not available; valid here: "
                         f"{', '.join(available_devices())}")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise LotusError(f"device {device!r} is not supported; valid here: {', '.join(available_devices())}")
    return dev


def available_devices() -> list[str]:
    """The device names :func:`resolve_device` accepts on this machine (``auto`` included)."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        out.append("mps")
    return out


def numerics() -> dict:
    """The global numeric settings that can change results, as plain data (part of every
    record's and checkpoint's key): the default dtype, deterministic algorithms, cuDNN's
    deterministic / benchmark switches, TF32 use and float32 matmul precision. (Mixed
    precision, ``amp``, is a setting of each recipe / method / evaluation and keyed there.)"""
    return {
        "default_dtype": str(torch.get_default_dtype()),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def check_writable(folder: str | os.PathLike, what: str = "output folder", min_free: int = 0) -> Path:
    """Make sure ``folder`` exists (created with its parents) and a file can be written in it.

    Called before any long work, so that a read-only folder, a file in the way, a missing
    permission or a disk with less than ``min_free`` bytes free is a :class:`LotusError`
    naming the folder at once, not an ``OSError`` after the training. Returns the folder as a
    :class:`~pathlib.Path`."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise LotusError(f"{what} {folder} is a file, not a folder; choose another path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise LotusError(f"{what} {folder}: a file is in the way of the folder; choose another path") from None
    except OSError as exc:
        raise LotusError(f"cannot create the {what} {folder}: {exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lotus-write-test.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise LotusError(f"the {what} {folder} is not writable ({exc.strerror or exc}); fix its permissions "
                         "or choose another folder") from None
    if min_free:
        import shutil

        free = shutil.disk_usage(folder).free
        if free < min_free:
            raise LotusError(f"the disk of the {what} {folder} is full ({free / 1e6:.1f} MB free, at least "
                             f"{min_free / 1e6:.0f} MB needed); free some space or choose another folder")
    return folder


def autocast(device: torch.device | str, enabled: bool):
    """bfloat16 autocast on ``device`` when ``enabled``; a no-op context otherwise."""
    dev = torch.device(device)
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)


def synchronize(device: torch.device | str) -> None:
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _atomic_write(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + rename)."""
    return _atomic_write(path, lambda fh: fh.write(data))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    data = (json.dumps(to_plain(obj), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    return atomic_write_bytes(path, data)


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically: readers never see a half-written file."""
    return _atomic_write(path, lambda fh: torch.save(obj, fh))


def to_plain(obj: Any) -> Any:
    """``obj`` as plain JSON data: the one converter of the package (records, reports, keys).

    Tensors and NumPy values become numbers or (nested) lists, paths and devices text, tuples
    lists, mapping keys text; NaN and infinities become ``None`` (strict JSON), so a value is
    hashed exactly as it is stored. Anything else is a ``TypeError`` naming its type.
    """
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, torch.Tensor):
        return to_plain(obj.item() if obj.numel() == 1 and obj.ndim == 0 else obj.tolist())
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist())
    if isinstance(obj, np.generic):
        return to_plain(obj.item())
    if isinstance(obj, (os.PathLike, torch.device, torch.dtype)):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_yaml_mapping(path: str | os.PathLike, what: str = "file") -> dict:
    """Read a YAML file that must hold a mapping (an empty file gives ``{}``).

    Raises :class:`LotusError` naming ``path`` when it is not valid YAML or not a mapping.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LotusError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LotusError(f"{what} {path} must be a YAML mapping")
    return data


def stable_hash(obj: Any, n: int = 16) -> str:
    """A short, stable hex digest of a JSON-serialisable object (sorted keys)."""
    import hashlib

    blob = json.dumps(to_plain(obj), sort_keys=True, allow_nan=False).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def env_int(name: str, what: str = "an integer") -> int | None:
    """The integer in the environment variable ``name``; ``None`` when it is unset or blank.
    Anything else is a :class:`LotusError` naming the variable (``what`` says what it holds)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise LotusError(f"${name} must be {what}, got {raw!r}") from None


def cache_dir() -> Path:
    """Root folder for cached checkpoints: ``$LOTUS_CACHE`` or ``~/.cache/lotus``."""
    return Path(os.environ.get("LOTUS_CACHE", Path.home() / ".cache" / "lotus")).expanduser()
