"""Distributed runs (lotus.distributed): 2 processes on the CPU with the gloo backend, started by
the tests as torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and
the sharding arithmetic in this process."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import lotus
from lotus import distributed
from lotus.data import TensorSplit
from lotus.utils import LotusError

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "dist_worker.py"
sys.path.insert(0, str(WORKER.parent))  # dist_worker's models, for the one-process comparisons

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _launch(scenario: str, work: Path, *, timeout_s: float = 60, world: int = 2) -> list[subprocess.Popen]:
    """``world`` ranks of tests/dist_worker.py, with the variables torchrun gives each process."""
    port = _free_port()
    procs = []
    for rank in range(world):
        env = _env(RANK=rank, LOCAL_RANK=rank, WORLD_SIZE=world, LOCAL_WORLD_SIZE=world, MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=port, LOTUS_DIST_TIMEOUT=timeout_s)
        procs.append(subprocess.Popen([sys.executable, str(WORKER), scenario, str(work)], env=env, cwd=REPO,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def _finish(procs, timeout: float) -> list[tuple[int, str]]:
    out = []
    for p in procs:
        try:
            text, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            text, _ = p.communicate()
            pytest.fail(f"a rank did not finish within {timeout} s:\n{text[-3000:]}")
        out.append((p.returncode, text))
    return out


# ---------------------------------------------------------------------------------------
# In this process: one process stays unchanged, the sharding arithmetic
# ---------------------------------------------------------------------------------------


def test_one_process_has_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = distributed.init_from_env()
    assert not ctx.enabled and ctx.is_main and not torch.distributed.is_initialized()
    model = torch.nn.Linear(2, 2)
    assert ctx.wrap(model) is model
    t = torch.arange(3.0)
    assert distributed.all_reduce_sum(t) is t and distributed.all_gather_rows(t) is t
    assert distributed.on_main(lambda: 7) == 7 and distributed.decide(lambda: 8) == 8


@pytest.mark.parametrize("world", ["", "  ", "1", "0"])
def test_an_unset_blank_or_single_world_size_is_one_process(monkeypatch, world):
    monkeypatch.setenv("WORLD_SIZE", world)
    assert not distributed.init_from_env().enabled


def test_a_world_size_that_is_no_integer_is_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(LotusError, match=r"\$WORLD_SIZE must be an integer, got 'two'"):
        distributed.init_from_env()


def test_init_from_env_says_what_is_missing(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(LotusError, match=r"\$RANK.*torchrun"):
        distributed.init_from_env()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(LotusError, match="LOTUS_DIST_TIMEOUT must be a number of seconds"):
        distributed.init_from_env()
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize("n", [1, 2, 5, 64, 97])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_batch_rows_partition_a_batch(n, world):
    rows = [distributed.batch_rows(n, r, world) for r in range(world)]
    assert rows[0][0] == 0 and rows[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))  # contiguous, in rank order
    sizes = [hi - lo for lo, hi in rows]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("n,bs,world", [(23, 8, 2), (23, 7, 3), (9, 4, 2), (17, 5, 3), (4, 4, 4)])
def test_shards_of_every_rank_make_the_global_batches(n, bs, world):
    """Every rank's share of every batch, with the augmentation numbers drawn for the whole
    batch: put together they are the one-process batches, bit for bit."""
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    split = TensorSplit(images, torch.arange(n) % 3, num_classes=3, mean=(0.5,), std=(0.25,), augment_mode="crop_flip")
    one = list(split.batches(bs, shuffle=True, augment=True, generator=torch.Generator().manual_seed(1),
                             with_index=True))
    per_rank = [list(split.batches(bs, shuffle=True, augment=True, generator=torch.Generator().manual_seed(1),
                                   with_index=True, shard=(r, world))) for r in range(world)]
    assert all(len(p) == len(one) for p in per_rank)  # every rank runs the same number of steps
    for step, (x, y, idx) in enumerate(one):
        parts = []
        for r in range(world):
            lo, hi = distributed.batch_rows(idx.numel(), r, world)
            xs, ys, ids = per_rank[r][step]
            if hi == lo:  # a placeholder row (weight 0) on a rank with no share of a small last batch
                assert ids.numel() == 1 and ids[0] == idx[0]
                continue
            parts.append((xs, ys, ids))
        assert torch.equal(torch.cat([p[2] for p in parts]), idx)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)
        assert torch.equal(torch.cat([p[0] for p in parts]), x)


def test_file_splits_stream_their_shards_through_loader_workers(tmp_path):
    """The ImageNet layout read from files: a FileSplit's num_workers (the profile's loader
    processes) decodes the same shard, in the same order, as decoding in this process."""
    from lotus.fixtures import write_standin

    write_standin(tmp_path, "imagenet1k", train_per_class=3, heldout_per_class=1, image_size=16)
    splits = lotus.load_splits("imagenet1k", root=str(tmp_path), forget="count:1", seed=0, image_size=16, resize=18,
                               in_memory=False, num_workers=1)
    train = splits.train
    assert type(train).__name__ == "FileSplit" and train.num_workers == 1
    assert train.subset([0, 1]).num_workers == 1
    kw = dict(shuffle=True, augment=True, with_index=True, shard=(1, 2))
    with_workers = list(train.batches(5, generator=torch.Generator().manual_seed(0), **kw))
    in_process = lotus.data.FileSplit(train.paths, train.labels, num_classes=train.num_classes, image_size=16,
                                      mean=train.mean, std=train.std, augment_mode=train.augment_mode, resize=18)
    assert in_process.num_workers == 0
    here = list(in_process.batches(5, generator=torch.Generator().manual_seed(0), **kw))
    assert len(with_workers) == len(here) == 3
    for (xa, ya, ia), (xb, yb, ib) in zip(with_workers, here):
        assert torch.equal(ia, ib) and torch.equal(ya, yb) and torch.equal(xa, xb)


def test_rows_weights_make_the_global_mean():
    """Rank losses weighted by Rows.scale and averaged over ranks (what DDP does to their
    gradients) give the mean over the global batch."""
    per_sample = torch.randn(11, generator=torch.Generator().manual_seed(0))
    world = 3
    ctxs = [distributed.Context(rank=r, world_size=world) for r in range(world)]
    total = 0.0
    for ctx in ctxs:
        lo, hi = distributed.batch_rows(11, ctx.rank, world)
        rows = distributed.Rows(lo, hi, 11, hi - lo, world * (hi - lo) / 11, world)
        total += float(rows.scale(per_sample[lo:hi].mean())) / world
    assert total == pytest.approx(float(per_sample.mean()), abs=1e-6)


def test_methods_that_do_not_reduce_their_statistics_refuse_several_processes():
    ctx = distributed.Context(rank=0, world_size=2, backend="gloo")
    for name in lotus.list_methods():
        impl = lotus.methods.get_method(name)
        if impl.distributed:
            distributed.check_supported(name, impl.distributed, ctx)
        else:
            with pytest.raises(LotusError, match=f"method '{name}' does not run under torchrun"):
                distributed.check_supported(name, impl.distributed, ctx)
    assert lotus.methods.get_method("lotus").distributed


# ---------------------------------------------------------------------------------------
# 2 processes
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def main_job(tmp_path_factory, trained_digits, digits_splits):
    """tests/dist_worker.py's main scenario on 2 ranks, and what it used."""
    import dist_worker

    from lotus.fixtures import write_standin
    from lotus.train import TrainRecipe, train_model

    work = tmp_path_factory.mktemp("ddp-main")
    original, gold = trained_digits
    torch.save(original.state_dict(), work / "original.pt")
    torch.save(gold.state_dict(), work / "gold.pt")
    torch.save(dist_worker.mlp(digits_splits.num_classes, digits_splits.train.image_shape).state_dict(), work / "mlp.pt")
    write_standin(work / "data", "imagenet1k")
    inet = lotus.load_splits("imagenet1k", root=str(work / "data"), forget="count:5", seed=0, retain_per_class=2,
                             image_size=32, resize=36, in_memory=False)
    torch.manual_seed(0)
    small = lotus.create_model("small_cnn", inet.num_classes, width=8)
    recipe = TrainRecipe(epochs=2, batch_size=8, lr=0.05, scheduler="none", warmup_epochs=0, patience=None, augment=False)
    small, _ = train_model(small, inet.train, None, recipe, device="cpu", progress=False)
    torch.save(small.state_dict(), work / "inet.pt")
    results = _finish(_launch("main", work), timeout=600)
    for rc, text in results:
        assert rc == 0, text[-3000:]
    return work, json.loads((work / "main.json").read_text()), inet, small


def test_distributed_evaluate_equals_one_process(main_job, trained_digits, digits_splits):
    _, out, _, _ = main_job
    original, gold = trained_digits
    assert out["world_size"] == 2
    single = lotus.evaluate(original, digits_splits, gold=gold, device="cpu")
    assert set(out["evaluate"]) == set(single)
    for k, v in single.items():
        assert out["evaluate"][k] == pytest.approx(v, abs=1e-6), k


def test_distributed_lotus_follows_the_one_process_sample_stream(main_job, digits_splits):
    """A model without BatchNorm: 2 ranks sharing uneven global batches of 97 (augmented)
    end with the one-process weights, up to float reduction order, and agree with each other."""
    import dist_worker

    work, out, _, _ = main_job
    net = dist_worker.mlp(digits_splits.num_classes, digits_splits.train.image_shape)
    net.load_state_dict(torch.load(work / "mlp.pt", weights_only=True))
    un, rep = lotus.unlearn(net, digits_splits, "lotus", device="cpu", seed=0, epochs=2, batch_size=97, augment=True,
                            lr=1e-3)
    single = dist_worker.flat_params(un)
    moved = (single - dist_worker.flat_params(net)).abs().max()
    ddp = torch.tensor(out["mlp_params"])
    assert out["mlp_rank_spread"] == 0.0  # every rank holds the same model
    assert moved > 1e-3
    assert (ddp - single).abs().max() < 1e-4  # float reduction order only
    assert [h["acc_forget"] for h in out["mlp_history"]] == pytest.approx([h["acc_forget"] for h in rep.history],
                                                                         abs=1e-6)


@pytest.mark.parametrize("method", ["ssd", "salun", "scrub", "neggrad_plus"])
def test_other_methods_give_the_one_process_result(main_job, digits_splits, method):
    """SSD's importances (squared gradients of whole batches) and SalUn's saliency mask are
    reduced across ranks, SCRUB's and NegGrad+'s two streams are sharded: 2 ranks give the one-process model,
    up to float reduction order (which may flip a few elements at a selection threshold)."""
    import dist_worker

    work, out, _, _ = main_job
    net = dist_worker.mlp(digits_splits.num_classes, digits_splits.train.image_shape)
    net.load_state_dict(torch.load(work / "mlp.pt", weights_only=True))
    un, _ = lotus.unlearn(net, digits_splits, method, device="cpu", seed=0, **dist_worker.METHODS[method])
    single = dist_worker.flat_params(un)
    moved = (single - dist_worker.flat_params(net)).abs()
    diff = (torch.tensor(out[f"mlp_{method}"]) - single).abs()
    assert moved.max() > 1e-3
    assert (diff > 1e-4 + 1e-3 * moved).float().mean() < 1e-3, float(diff.max())


def test_imagenet_standin_streams_and_scores_without_a_gold_model(main_job):
    """The ImageNet-1k path end to end on its stand-in folder: count:5 forget, a retain cap,
    files decoded on the fly and sharded, LoTUS under DDP, retrain-free evaluation."""
    _, out, inet, small = main_job
    assert out["imagenet_kind"] == "FileSplit"
    assert out["imagenet_sizes"]["forget"] == 5 * inet.num_classes
    assert out["imagenet_sizes"]["retain"] == 2 * inet.num_classes
    assert "jsd" not in out["imagenet_eval"] and {"rf_jsd", "mia", "acc_forget"} <= set(out["imagenet_eval"])
    single = lotus.evaluate(small, inet, device="cpu")
    for k, v in single.items():
        assert out["imagenet_original_eval"][k] == pytest.approx(v, abs=1e-6), k
    moved = torch.tensor(out["imagenet_unlearned"]) - torch.nn.utils.parameters_to_vector(small.parameters())
    assert moved.abs().max() > 0


def test_cli_run_under_torchrun_writes_one_record(tmp_path):
    """`lotus run` under torchrun (2 processes): original and gold trained under DDP, LoTUS,
    one record and one checkpoint each, written by rank 0; a one-process run on the same
    checkpoints changes the forget accuracy the same way (within seed noise)."""
    args = ["run", "--dataset", "digits", "--model", "small_cnn", "--model-arg", "width=16", "--methods", "lotus",
            "--seeds", "0", "--train", "epochs=2", "batch_size=64", "lr=0.05", "scheduler=cosine", "warmup_epochs=0",
            "augment=false", "--set", "epochs=3", "lr=1e-3", "--cache-dir", str(tmp_path / "ckpt"), "-q"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "lotus.cli", *args, "--results", str(tmp_path / "ddp")]
    res = subprocess.run(cmd, env=_env(LOTUS_DIST_TIMEOUT=120), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.count("1 record(s) in") == 1  # rank 0 prints, rank 1 is silent
    records = list((tmp_path / "ddp").glob("*.json"))
    assert len(records) == 1
    assert sorted(p.name.split("-")[2] for p in (tmp_path / "ckpt").glob("*.pt")) == ["gold", "original"]
    assert not list((tmp_path / "ckpt").glob("*partial*"))
    ddp = json.loads(records[0].read_text())
    single = subprocess.run([sys.executable, "-m", "lotus.cli", *args, "--results", str(tmp_path / "one")],
                            env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads(next((tmp_path / "one").glob("*.json")).read_text())
    assert one["original"] == ddp["original"]  # the same cached original model, the same scores
    assert one["train"]["original"]["cached"] and not ddp["train"]["original"]["cached"]
    before = ddp["original"]["acc_forget"]
    for key in ("acc_forget", "acc_test", "acc_retain"):
        assert ddp[key] == pytest.approx(one[key], abs=0.06), key
    # the forget accuracy moves the same way in both runs, epoch by epoch
    ddp_path = [h["acc_forget"] - before for h in ddp["history"]]
    one_path = [h["acc_forget"] - before for h in one["history"]]
    assert ddp_path == pytest.approx(one_path, abs=0.08)
    assert min(ddp_path) < 0 and min(one_path) < 0


@pytest.mark.parametrize("scenario,timeout_s", [("dies", 60), ("stalls", 3)])
def test_a_lost_rank_fails_the_job_with_a_clear_error(tmp_path, scenario, timeout_s):
    """Rank 1 dies (or hangs without joining); rank 0, waiting in a collective, fails with a
    LotusError naming the timeout variable within the collective timeout, not forever."""
    procs = _launch(scenario, tmp_path, timeout_s=timeout_s)
    t0 = time.perf_counter()
    try:
        rc, text = _finish(procs[:1], timeout=timeout_s + 120)[0]
    finally:
        procs[1].kill()
        procs[1].communicate()
    assert rc == 2, text[-3000:]
    assert "rank 0 of 2" in text and distributed.TIMEOUT_ENV in text
    err = json.loads((tmp_path / f"{scenario}.json").read_text())
    assert err["seconds"] < timeout_s + 30
    assert time.perf_counter() - t0 < timeout_s + 120
