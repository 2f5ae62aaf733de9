"""Package code behind the teaching parts of chapters 1-6: the published-table notes of
chapters 4 and 5, and the claim of chapter 2 that a LoTUS epoch written out by hand
reproduces ``lotus.unlearn(..., method="lotus", epochs=1)`` bit for bit on CPU."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import lotus
from lotus import paper
from lotus.book import report
from lotus.data import concat_splits
from lotus.methods.lotus import gumbel_noise
from lotus.metrics import accuracy
from lotus.utils import LotusError, make_generator


def test_avg_gap_sources_puts_both_published_values_side_by_side():
    bench = "resnet18-cifar10-10"
    df = report.avg_gap_sources(bench)
    final = paper.published_table(bench)["avg_gap"]
    review = paper.published_accuracies(bench)["avg_gap"]
    assert "original" not in df.index
    for m in final.index:
        assert df.loc[m, "final"] == final[m]
        if m in review.index:
            assert df.loc[m, "review"] == review[m]
            assert df.loc[m, "differs"] == (abs(final[m] - review[m]) > 1e-9)
    # the case chapter 4 explains: LoTUS's row changed between the review and the final paper
    assert df.loc["lotus", "differs"] and df.loc["lotus", "final"] < df.loc["lotus", "review"]


def test_published_winners_finds_the_lowest_avg_gap_of_each_benchmark():
    table = "cvpr2025 Table 3"
    df = report.published_winners(table)
    summary = paper.read_published("summary")
    rows = summary[summary["table"] == table]
    assert set(df.index) == set(rows["benchmark"])
    for bench, part in rows.groupby("benchmark"):
        gaps = part.set_index("method")["avg_gap"]
        assert df.loc[bench, "best_avg_gap"] == gaps.min()
        assert df.loc[bench, "lotus_avg_gap"] == gaps["lotus"]
        expected = "wins" if (gaps < gaps["lotus"]).sum() == 0 and (gaps == gaps["lotus"]).sum() == 1 \
            else "ties" if gaps["lotus"] == gaps.min() else "loses"
        assert df.loc[bench, "outcome"] == expected
    with pytest.raises(LotusError, match="valid"):
        report.published_winners("Table 99")


@pytest.mark.parametrize("augment", [False, True])
def test_a_lotus_epoch_written_out_matches_unlearn_bit_for_bit(digits_splits, augment):
    """The RNG order chapter 2 reproduces: one generator per run (noise seed, then the retain
    subset, then the batches), a second one for the Gumbel noise (soft, then hard draws)."""
    splits, seed = digits_splits, 3
    torch.manual_seed(0)
    original = lotus.create_model("small_cnn", splits.num_classes, width=8)
    hp = dict(epochs=1, batch_size=64, lr=1e-3, weight_decay=5e-4, alpha=4.0, augment=augment, channels_last=False)
    unlearned, _ = lotus.unlearn(original, splits, "lotus", device="cpu", seed=seed, **hp)

    teacher, student = copy.deepcopy(original).eval(), copy.deepcopy(original)
    g = make_generator(seed, "lotus")
    noise = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
    keep = torch.randperm(len(splits.retain), generator=g)[: int(0.3 * len(splits.retain))]
    data = concat_splits([splits.forget, splits.retain.subset(keep)])
    is_forget = torch.arange(len(data)) < len(splits.forget)
    opt = torch.optim.AdamW(student.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    tau = math.exp(hp["alpha"] * (accuracy(student, splits.forget) - accuracy(teacher, splits.val)))
    student.train()
    for x, _, idx in data.batches(hp["batch_size"], shuffle=True, augment=augment, generator=g, with_index=True):
        with torch.no_grad():
            t = teacher(x)
        soft = torch.softmax((t + gumbel_noise(t.shape, generator=noise)) / tau, dim=1)
        hard = F.one_hot((t + gumbel_noise(t.shape, generator=noise)).argmax(1), t.shape[1]).float()
        target = torch.where(is_forget[idx, None], soft, hard)
        loss = -(target * F.log_softmax(student(x), dim=1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for (name, a), b in zip(student.state_dict().items(), unlearned.state_dict().values()):
        assert torch.equal(a, b), name
