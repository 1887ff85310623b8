"""DistributedSampler against PyTorch's: the same index lists for every rank (padding, drop_last), and
with shuffle the same split of the drawn order."""
import numpy as np
import pytest

from tinycnn.utils.data import DataLoader, DistributedSampler, TensorDataset

CASES = [(n, replicas, drop_last) for n in (0, 1, 5, 10, 11, 13) for replicas in (1, 2, 3, 4, 7)
         for drop_last in (False, True)]


class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_index_lists_are_pytorchs(torch, n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        ours = DistributedSampler(_Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(_Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("n,replicas,drop_last", [(11, 3, False), (11, 3, True), (5, 7, False), (12, 4, False)])
def test_a_shuffled_order_is_split_as_pytorch_splits_the_positions(torch, n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for epoch in (0, 3):
        whole = np.random.default_rng(7 + epoch).permutation(n)   # the order our sampler draws for this epoch
        for rank in range(replicas):
            ours = DistributedSampler(_Sized(n), replicas, rank, shuffle=True, seed=7, drop_last=drop_last)
            ours.set_epoch(epoch)
            positions = list(TorchSampler(_Sized(n), replicas, rank, shuffle=False, drop_last=drop_last))
            assert list(ours) == [int(whole[p]) for p in positions]


def test_ranks_share_one_order_per_epoch_and_a_new_one_each_epoch():
    data = _Sized(20)
    shares = [DistributedSampler(data, 2, r, seed=1) for r in range(2)]
    first = [list(s) for s in shares]
    assert sorted(first[0] + first[1]) == list(range(20))
    for s in shares:
        s.set_epoch(1)
    assert [list(s) for s in shares] != first


def test_rank_batches_together_are_one_process_global_batches():
    data = TensorDataset(np.arange(24.0))
    single = [b[0].numpy() for b in DataLoader(data, batch_size=8)]
    ranks = [[b[0].numpy() for b in DataLoader(data, batch_size=4, sampler=DistributedSampler(data, 2, r,
                                                                                            shuffle=False))]
             for r in range(2)]
    for step, whole in enumerate(single):
        assert sorted(np.concatenate([ranks[0][step], ranks[1][step]]).tolist()) == whole.tolist()


def test_bad_arguments_raise_as_pytorch():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(_Sized(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(_Sized(4), num_replicas=2, rank=-1)
    with pytest.raises(RuntimeError, match="not initialized"):
        DistributedSampler(_Sized(4))
