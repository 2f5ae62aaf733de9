"""One rank of the 2-process jobs of tests/test_distributed.py (not a test module).

``python tests/dist_worker.py SCENARIO WORKDIR``, started once per rank by the test with the
variables torchrun sets (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Rank 0 writes
``WORKDIR/SCENARIO.json``; a LotusError is printed on stderr and gives exit status 2.
"""

import os
import sys
import time
from pathlib import Path

import torch

import lotus
from lotus import distributed
from lotus.utils import LotusError, atomic_write_json


def mlp(num_classes: int, image_shape) -> torch.nn.Module:
    """A model without BatchNorm: under DDP its training is the one-process training."""
    torch.manual_seed(0)
    pixels = int(torch.tensor(image_shape).prod())
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(pixels, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, num_classes))


#: methods run on the MLP by the main scenario, and their hyper-parameters
METHODS = {"ssd": {"batch_size": 97}, "salun": {"epochs": 1, "batch_size": 97, "lr": 1e-2},
           # SCRUB without max-steps: its first max-step starts where the student is the teacher, whose
           # KL gradient is zero up to rounding, and Adam turns rounding noise into steps of lr
           "scrub": {"epochs": 2, "msteps": 0, "batch_size": 97, "lr": 1e-3},
           "neggrad_plus": {"epochs": 1, "batch_size": 97, "lr": 1e-2}}


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def scenario_main(work: Path, ctx) -> dict:
    """evaluate, LoTUS (an MLP and the small CNN) and the ImageNet stand-in, on every rank."""
    out: dict = {"world_size": ctx.world_size}
    splits = lotus.load_splits("digits", forget=0.1, seed=0)
    original = lotus.create_model("small_cnn", splits.num_classes, width=16)
    original.load_state_dict(torch.load(work / "original.pt", weights_only=True))
    gold = lotus.create_model("small_cnn", splits.num_classes, width=16)
    gold.load_state_dict(torch.load(work / "gold.pt", weights_only=True))
    out["evaluate"] = lotus.evaluate(original, splits, gold=gold, device="cpu")
    # LoTUS on a BatchNorm-free MLP: an odd global batch (97) that 2 ranks share unevenly,
    # whose last batch does not divide either
    net = mlp(splits.num_classes, splits.train.image_shape)
    net.load_state_dict(torch.load(work / "mlp.pt", weights_only=True))
    un, rep = lotus.unlearn(net, splits, "lotus", device="cpu", seed=0, epochs=2, batch_size=97, augment=True,
                            lr=1e-3)
    params = flat_params(un)
    out["mlp_params"] = params.tolist()
    out["mlp_history"] = rep.history
    same = distributed.all_reduce_sum((params - distributed.broadcast_object(params)).abs().sum()[None])
    out["mlp_rank_spread"] = float(same)
    # other methods: SSD (squared batch gradients reduced), SalUn (summed saliency, then training),
    # SCRUB and NegGrad+ (two sharded streams)
    for method, hp in METHODS.items():
        un, rep = lotus.unlearn(net, splits, method, device="cpu", seed=0, **hp)
        out[f"mlp_{method}"] = flat_params(un).tolist()
    # the ImageNet-1k path on its stand-in: image files streamed (FileSplit), count:5 forget,
    # a retain cap, retrain-free evaluation (no gold model)
    inet = lotus.load_splits("imagenet1k", root=str(work / "data"), forget="count:5", seed=0, retain_per_class=2,
                             image_size=32, resize=36, in_memory=False)
    out["imagenet_sizes"] = inet.sizes()
    out["imagenet_kind"] = type(inet.forget).__name__
    small = lotus.create_model("small_cnn", inet.num_classes, width=8)
    small.load_state_dict(torch.load(work / "inet.pt", weights_only=True))
    out["imagenet_original_eval"] = lotus.evaluate(small, inet, device="cpu")
    un, rep = lotus.unlearn(small, inet, "lotus", device="cpu", seed=0, epochs=1, batch_size=4)
    out["imagenet_eval"] = lotus.evaluate(un, inet, original=small, device="cpu")
    out["imagenet_unlearned"] = flat_params(un).tolist()
    return out


def scenario_dies(work: Path, ctx) -> dict:
    """Rank 1 dies at once; rank 0 then waits in a collective and must fail, not hang."""
    if ctx.rank == 1:
        os._exit(3)
    return _wait_for_rank1(work, "dies")


def scenario_stalls(work: Path, ctx) -> dict:
    """Rank 1 hangs (alive, never joining); rank 0 must fail after the collective timeout."""
    if ctx.rank == 1:
        time.sleep(600)  # the test kills it
        os._exit(3)
    return _wait_for_rank1(work, "stalls")


def _wait_for_rank1(work: Path, name: str) -> dict:
    t0 = time.perf_counter()
    try:
        distributed.all_reduce_sum(torch.ones(1), what="a sum the dead rank never joins")
        distributed.barrier("a barrier the dead rank never reaches")
    except LotusError as exc:
        atomic_write_json(work / f"{name}.json", {"error": str(exc), "seconds": time.perf_counter() - t0})
        raise
    return {}


def main() -> int:
    scenario, work = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    try:
        ctx = distributed.init_from_env()
        out = {"main": scenario_main, "dies": scenario_dies, "stalls": scenario_stalls}[scenario](work, ctx)
        distributed.on_main(atomic_write_json, work / f"{scenario}.json", out, what="writing the result")
    except LotusError as exc:
        print(f"dist_worker: error: {exc}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
