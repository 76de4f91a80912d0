import pytest

from momentor import config as config_lib
from momentor.train.schedule import StagePlan, plan_stage, step_micro_batches


def test_plan_counts_steps_from_epochs_or_max_steps():
    cfg = config_lib.from_dict(
        {},
        [
            "train.micro_batch_size=4",
            "train.gradient_accumulation_steps=2",
            "train.warmup_ratio=0.1",
            "train.gesm.epochs=3",
        ],
    )
    plan = plan_stage("gesm", cfg.train, cfg.train.gesm, num_examples=34, world_size=2)
    assert plan.global_batch == 16
    assert plan.total_steps == 7  # ceil(3 * 34 / 16)
    assert plan.warmup_steps == 1  # ceil(0.1 * 7)
    cfg = config_lib.from_dict({}, ["train.gesm.max_steps=5"])
    assert plan_stage("gesm", cfg.train, cfg.train.gesm, 34, 1).total_steps == 5
    cfg = config_lib.from_dict({}, ["train.gesm.enabled=false"])
    assert plan_stage("gesm", cfg.train, cfg.train.gesm, 34, 1).total_steps == 0


def test_each_epoch_reads_every_example_once_in_a_seeded_order():
    plan = StagePlan(
        "instruct",
        num_examples=10,
        micro_batch_size=2,
        accumulation=1,
        world_size=1,
        total_steps=10,
        warmup_steps=1,
    )
    seen = [i for step in range(10) for mb in step_micro_batches(plan, 0, step, 0) for i in mb]
    first, second = seen[:10], seen[10:]
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second and first != list(range(10))  # shuffled, and differently per epoch
    assert seen == [i for step in range(10) for mb in step_micro_batches(plan, 0, step, 0) for i in mb]
    other_seed = [i for step in range(5) for mb in step_micro_batches(plan, 1, step, 0) for i in mb]
    assert other_seed != first


def test_ranks_and_micro_batches_split_the_global_batch():
    # the same global batch whether one process accumulates 4 micro-batches or 2 processes accumulate 2
    one = StagePlan("gesm", 48, 3, 4, 1, 10, 1)
    two = StagePlan("gesm", 48, 3, 2, 2, 10, 1)
    for step in range(4):
        single = sorted(i for mb in step_micro_batches(one, 7, step, 0) for i in mb)
        shared = [i for rank in (0, 1) for mb in step_micro_batches(two, 7, step, rank) for i in mb]
        assert len(shared) == len(set(shared)) == 12
        assert sorted(shared) == single


def test_an_empty_stage_says_so():
    with pytest.raises(ValueError, match="no training examples"):
        step_micro_batches(StagePlan("gesm", 0, 2, 1, 1, 1, 1), 0, 0, 0)
