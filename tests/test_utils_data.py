"""tinycnn.utils.data: datasets, samplers, default_collate and the DataLoader (single process and workers),
against torch.utils.data where PyTorch has the same thing."""
from __future__ import annotations

import collections
import os
import signal
import time

import numpy as np
import pytest

import tinycnn
from tinycnn.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                RandomSampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                                WeightedRandomSampler, default_collate, default_convert, get_worker_info,
                                random_split)


class Squares(Dataset):
    """A map-style dataset without get_batch: sample i is (float32 [i, i*i], i)."""

    def __init__(self, n=20):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.array([i, i * i], np.float32), i


class Stream(IterableDataset):
    """0..n-1, split between the workers by get_worker_info (each value comes once)."""

    def __init__(self, n=20):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def _labels(loader):
    return [b[1].tolist() for b in loader]


# ---- datasets ------------------------------------------------------------------------------------------------
def test_tensor_dataset_rows_and_batch():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = TensorDataset(tinycnn.tensor(x), np.arange(6))
    a, b = ds[4]
    assert isinstance(a, tinycnn.Tensor) and a.tolist() == [8.0, 9.0] and int(b.item()) == 4
    batch = ds.get_batch([5, 0])
    assert isinstance(batch, list) and batch[0].tolist() == [[10.0, 11.0], [0.0, 1.0]] and batch[1].tolist() == [5, 0]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros(3), np.zeros(4))


def test_subset_concat_and_add():
    base = Squares(10)
    sub = Subset(base, [7, -1, 2])
    assert len(sub) == 3 and sub[0][1] == 7 and sub[1][1] == 9 and [s[1] for s in sub[[2, 0]]] == [2, 7]
    with pytest.raises(ValueError, match="Subset: indices"):
        Subset(base, [0, 10])
    cat = base + Squares(5)
    assert isinstance(cat, ConcatDataset) and len(cat) == 15 and cat.cumulative_sizes == [10, 15]
    assert cat[12][1] == 2 and cat[-1][1] == 4 and cat[9][1] == 9
    with pytest.raises(ValueError, match="out of range"):
        cat[-16]
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([base, Stream()])
    chain = Stream(3) + Stream(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5


def test_subset_reads_classes_through_but_not_data():
    class Named(Squares):
        classes = ["a", "b"]
        data = np.zeros(10)
    sub = Subset(Named(), [1])
    assert sub.classes == ["a", "b"]
    with pytest.raises(AttributeError):
        sub.data


def test_random_split_counts_fractions_and_generator(torch):
    data = Squares(10)
    parts = random_split(data, [0.5, 0.3, 0.2], generator=tinycnn.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(i for p in parts for i in p.indices) == list(range(10))
    again = random_split(data, [0.5, 0.3, 0.2], generator=tinycnn.Generator().manual_seed(1))
    assert [p.indices for p in parts] == [p.indices for p in again]
    # remainders are dealt round-robin, as PyTorch deals them
    for n, fractions in ((11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]), (5, [0.1, 0.9])):
        ours = [len(p) for p in random_split(Squares(n), fractions)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(data, [4, 5])


# ---- samplers ------------------------------------------------------------------------------------------------
def test_samplers():
    data = Squares(10)
    assert list(SequentialSampler(data)) == list(range(10))
    perm = list(RandomSampler(data, generator=tinycnn.Generator().manual_seed(3)))
    assert sorted(perm) == list(range(10))
    drawn = list(RandomSampler(data, replacement=True, num_samples=25, generator=np.random.default_rng(0)))
    assert len(drawn) == 25 and all(0 <= i < 10 for i in drawn)
    more = list(RandomSampler(data, num_samples=23))
    assert len(more) == 23 and collections.Counter(more).most_common(1)[0][1] == 3
    assert sorted(SubsetRandomSampler([3, 5, 8])) == [3, 5, 8]
    weighted = list(WeightedRandomSampler([0, 0, 1, 0], 20))
    assert weighted == [2] * 20
    assert sorted(WeightedRandomSampler([1, 2, 3], 3, replacement=False)) == [0, 1, 2]
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(SequentialSampler(range(7)), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(data, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler(np.ones((2, 2)), 3)


def test_random_sampler_without_generator_follows_manual_seed():
    data = Squares(30)
    tinycnn.manual_seed(5)
    first = [list(RandomSampler(data)) for _ in range(2)]
    tinycnn.manual_seed(5)
    again = [list(RandomSampler(data)) for _ in range(2)]
    assert first == again and first[0] != first[1]


# ---- default_collate -----------------------------------------------------------------------------------------
def test_default_collate_matches_torch(torch):
    from torch.utils.data import default_collate as torch_collate
    Point = collections.namedtuple("Point", "x y")
    samples = [
        [(np.ones(3, np.float32) * i, i, float(i) / 2, f"s{i}", {"k": i, "v": [i, i + 1]}, Point(i, 2 * i), True)
         for i in range(4)],
    ]
    ours, theirs = default_collate(samples[0]), torch_collate(samples[0])
    assert isinstance(ours, list) and len(ours) == len(theirs)

    def compare(a, b):
        if isinstance(b, torch.Tensor):
            assert isinstance(a, tinycnn.Tensor) and a.shape == tuple(b.shape)
            assert str(a.dtype) == str(b.dtype).replace("torch.", "")
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        elif isinstance(b, dict):
            assert isinstance(a, dict) and a.keys() == b.keys()
            for k in b:
                compare(a[k], b[k])
        elif isinstance(b, (list, tuple)):
            assert type(a) is type(b) and len(a) == len(b)
            for x, y in zip(a, b):
                compare(x, y)
        else:
            assert a == b
    compare(ours, theirs)


def test_default_collate_errors_and_convert():
    with pytest.raises(RuntimeError, match=r"equal size, but got \[3\] at entry 0 and \[4\] at entry 1"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([(1, 2), (1,)])
    from PIL import Image
    with pytest.raises(TypeError, match="ToTensor"):
        default_collate([Image.new("L", (2, 2))])
    converted = default_convert((np.zeros(2), 3, {"a": np.ones(1)}))
    assert isinstance(converted, list) and isinstance(converted[0], tinycnn.Tensor) and converted[1] == 3
    assert isinstance(converted[2]["a"], tinycnn.Tensor)


# ---- DataLoader, one process -----------------------------------------------------------------------------
def test_loader_argument_errors_as_pytorch():
    data = Squares()
    cases = [(dict(batch_size=0), ValueError, "batch_size should be a positive integer"),
             (dict(num_workers=-1), ValueError, "num_workers option should be non-negative"),
             (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
             (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified"),
             (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
             (dict(sampler=SequentialSampler(data), shuffle=True), ValueError, "mutually exclusive with shuffle"),
             (dict(batch_sampler=BatchSampler(range(20), 4, False), batch_size=4), ValueError,
              "batch_sampler option is mutually exclusive"),
             (dict(batch_size=None, drop_last=True), ValueError, "batch_size=None option disables auto-batching"),
             (dict(seed=1, generator=tinycnn.Generator()), ValueError, "seed= or generator="),
             (dict(generator=42), TypeError, "generator must be")]
    for kwargs, exc, phrase in cases:
        with pytest.raises(exc, match=phrase):
            DataLoader(data, **kwargs)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError, match="must define __getitem__"):
        DataLoader(object())


def test_batches_lengths_and_drop_last():
    data = Squares(10)
    loader = DataLoader(data, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert len(DataLoader(data, batch_size=4, drop_last=True)) == 2
    assert len(list(DataLoader(data, batch_size=11, drop_last=True))) == 0
    single = list(DataLoader(data, batch_size=None))
    assert len(single) == 10 and isinstance(single[3][0], tinycnn.Tensor) and single[3][1] == 3
    custom = list(DataLoader(data, batch_size=3, collate_fn=lambda s: [x[1] for x in s]))
    assert custom[0] == [0, 1, 2]
    via_batch_sampler = DataLoader(data, batch_sampler=[[9, 0], [5]])
    assert _labels(via_batch_sampler) == [[9, 0], [5]]
    assert _labels(DataLoader(data, batch_size=3, sampler=[4, 2, 8, 1])) == [[4, 2, 8], [1]]


def test_get_batch_fast_path_equals_collating_samples():
    class Counting(Squares):
        calls = 0

        def __getitem__(self, i):
            Counting.calls += 1
            return super().__getitem__(i)

        def get_batch(self, indices):
            return default_collate([Squares.__getitem__(self, int(i)) for i in indices])
    data = Counting(12)
    fast = list(DataLoader(data, batch_size=5, shuffle=True, seed=0))
    assert Counting.calls == 0
    slow = list(DataLoader(Squares(12), batch_size=5, shuffle=True, seed=0))
    assert [b[1].tolist() for b in fast] == [b[1].tolist() for b in slow]
    list(DataLoader(data, batch_size=5, collate_fn=default_collate))
    assert Counting.calls == 0  # the default collate function itself still takes the fast path
    list(DataLoader(data, batch_size=5, collate_fn=lambda s: default_collate(s)))
    assert Counting.calls == 12  # any other collate_fn sees the samples


def test_shuffle_reproducible_by_seed_and_by_manual_seed():
    data = Squares(30)
    loader = DataLoader(data, batch_size=7, shuffle=True, seed=5)
    e1, e2 = _labels(loader), _labels(loader)
    assert e1 != e2 and sorted(sum(e1, [])) == list(range(30))
    assert _labels(DataLoader(data, batch_size=7, shuffle=True, seed=5)) == e1
    tinycnn.manual_seed(3)
    a = _labels(DataLoader(data, batch_size=10, shuffle=True))
    tinycnn.manual_seed(3)
    assert _labels(DataLoader(data, batch_size=10, shuffle=True)) == a


def test_state_dict_resumes_the_sequence(tmp_path):
    data = Squares(30)
    loader = DataLoader(data, batch_size=8, shuffle=True, seed=11)
    _labels(loader)
    tinycnn.save({"loader": loader.state_dict()}, tmp_path / "s.npz")
    expected = [_labels(loader), _labels(loader)]
    resumed = DataLoader(data, batch_size=8, shuffle=True, seed=999)
    resumed.load_state_dict(tinycnn.load(tmp_path / "s.npz", as_tensors=False)["loader"])
    assert [_labels(resumed), _labels(resumed)] == expected and resumed.epoch == 3


def test_state_dict_of_the_earlier_format_loads():
    old_generator = np.random.default_rng(4)
    old_generator.permutation(30)
    state = {"seed": 4, "epoch": 1, "generator": old_generator.bit_generator.state, "transforms": []}
    loader = DataLoader(Squares(30), batch_size=30, shuffle=True, seed=0)
    loader.load_state_dict(state)
    assert _labels(loader)[0] == old_generator.permutation(30).tolist()


def test_device_argument_keeps_cpu_batches():
    batch = next(iter(DataLoader(Squares(4), batch_size=4, device="cpu")))
    assert batch[0].device == "cpu"


# ---- DataLoader with worker processes ----------------------------------------------------------------------
def test_workers_give_the_same_batches_in_order():
    data = Squares(23)
    expected = _labels(DataLoader(data, batch_size=4))
    for workers in (1, 3):
        loader = DataLoader(data, batch_size=4, num_workers=workers)
        assert _labels(loader) == expected and len(loader) == 6
    shuffled = DataLoader(data, batch_size=4, shuffle=True, seed=2, num_workers=2)
    assert _labels(shuffled) == _labels(DataLoader(data, batch_size=4, shuffle=True, seed=2))
    unordered = sum(_labels(DataLoader(data, batch_size=4, num_workers=2, in_order=False)), [])
    assert sorted(unordered) == list(range(23))


def test_workers_are_real_processes_and_get_worker_info():
    class Pids(Squares):
        def __getitem__(self, i):
            info = get_worker_info()
            return os.getpid(), info.id, info.num_workers, info.seed, type(info.dataset).__name__
    batches = list(DataLoader(Pids(8), batch_size=2, num_workers=2, collate_fn=list))
    pids = {s[0] for b in batches for s in b}
    assert os.getpid() not in pids and len(pids) == 2
    assert {s[1] for b in batches for s in b} == {0, 1}
    assert all(s[2] == 2 and s[4] == "Pids" for b in batches for s in b)
    # batch k is made by worker k % 2, and the two workers' seeds differ by one (base_seed + id)
    assert [b[0][1] for b in batches] == [0, 1, 0, 1]
    seeds = {s[1]: s[3] for b in batches for s in b}
    assert seeds[1] == seeds[0] + 1
    assert get_worker_info() is None


def test_workers_draw_different_numbers_reproducibly():
    class Draw(Squares):
        def __getitem__(self, i):
            return float(tinycnn.rand(1).item()), i
    data = Draw(16)
    run = [b[0].tolist() for b in DataLoader(data, batch_size=4, num_workers=2, seed=7)]
    again = [b[0].tolist() for b in DataLoader(data, batch_size=4, num_workers=2, seed=7)]
    other = [b[0].tolist() for b in DataLoader(data, batch_size=4, num_workers=2, seed=8)]
    assert run == again and run != other
    values = sum(run, [])
    assert len(set(values)) == len(values)  # no worker repeats another's draws


def test_persistent_workers_and_worker_init_fn():
    started = []

    def init(worker_id):
        os.environ["TINYCNN_TEST_WORKER"] = str(worker_id)

    class WhoAmI(Squares):
        def __getitem__(self, i):
            return int(os.environ["TINYCNN_TEST_WORKER"]), os.getpid()
    loader = DataLoader(WhoAmI(6), batch_size=3, num_workers=2, persistent_workers=True, worker_init_fn=init)
    for _ in range(3):
        batches = list(loader)
        started.append(frozenset(int(p) for b in batches for p in b[1].tolist()))
        assert [b[0].tolist() for b in batches] == [[0, 0, 0], [1, 1, 1]]
    assert started[0] == started[1] == started[2]  # the same two processes served every epoch
    first = iter(loader)
    next(first)  # an abandoned pass: its late results must not leak into the next one
    assert [b[0].tolist() for b in loader] == [[0, 0, 0], [1, 1, 1]]
    loader._pool.shutdown()


def test_stream_dataset_in_workers():
    single = sum(_as_lists(DataLoader(Stream(20), batch_size=3)), [])
    assert single == list(range(20))
    multi = _as_lists(DataLoader(Stream(20), batch_size=3, num_workers=2))
    assert sorted(sum(multi, [])) == list(range(20))
    assert multi[:2] == [[0, 2, 4], [1, 3, 5]]  # batches alternate between the workers
    dropped = _as_lists(DataLoader(Stream(20), batch_size=3, num_workers=2, drop_last=True))
    assert all(len(b) == 3 for b in dropped) and len(dropped) == 6
    assert len(DataLoader(Stream(20), batch_size=3)) == 7


def _as_lists(loader):
    return [b.tolist() for b in loader]


def test_worker_exception_names_the_worker_and_keeps_its_type():
    class Bad(Squares):
        def __getitem__(self, i):
            if i == 9:
                raise KeyError("sample 9 is broken")
            return super().__getitem__(i)
    # batch 3 = [9, 10, 11] is worker 1's
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1") as info:
        list(DataLoader(Bad(12), batch_size=3, num_workers=2))
    assert "sample 9 is broken" in str(info.value) and "Traceback" in str(info.value.__cause__)


def test_worker_killed_and_timeout():
    class Dies(Squares):
        def __getitem__(self, i):
            if i == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__getitem__(i)
    # batch 2 = [4, 5] is worker 0's
    with pytest.raises(RuntimeError, match=r"DataLoader worker 0 \(pid \d+\) was killed by signal SIGKILL"):
        list(DataLoader(Dies(8), batch_size=2, num_workers=2))

    class Slow(Squares):
        def __getitem__(self, i):
            time.sleep(2)
            return super().__getitem__(i)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(4), batch_size=2, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 10


def test_breaking_out_of_an_epoch_stops_its_workers():
    loader = DataLoader(Squares(40), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    processes = list(it._pool.processes)
    del it
    for p in processes:
        p.join(timeout=10)
        assert not p.is_alive()


def test_spawn_context_works_with_a_picklable_dataset():
    data = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    batches = list(DataLoader(data, batch_size=5, num_workers=1, multiprocessing_context="spawn"))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc (Linux)")
def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "main.py"
    script.write_text(
        "import os, signal, sys\n"
        "import numpy as np\n"
        "from tinycnn.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(np.arange(8.0)), batch_size=2, num_workers=2, persistent_workers=True)\n"
        "list(loader)\n"
        "print(' '.join(str(p.pid) for p in loader._pool.processes), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL
    pids = [int(p) for p in run.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.5)
    assert not any(_alive(p) for p in pids)   # orphaned workers notice within their 5 s poll and leave


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
