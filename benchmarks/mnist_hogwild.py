"""Hogwild training of MNIST, as PyTorch's mnist_hogwild example does it, in tinycnn or (--torch) in PyTorch.

One model in shared memory (``model.share_memory()``); ``--num-processes`` processes each train it on the
whole training set in their own shuffled order, with their own SGD (lr 0.01, momentum 0.5, batch 64), and
write their updates into the shared weights without locks. Then the parent tests the model. The network,
the data preparation (ToTensor + Normalize(0.1307, 0.3081)) and the hyper-parameters are the example's:

    python benchmarks/mnist_hogwild.py --num-processes 2 --epochs 1
    python benchmarks/mnist_hogwild.py --num-processes 2 --epochs 1 --torch      # PyTorch's, same data

``--train-limit``/``--test-limit`` take the first N images (the shipped MNIST); ``--json`` prints one line
{"library", "accuracy", "test_loss", "seconds", ...} at the end.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def mnist_arrays(train: bool, limit: int | None):
    from tinycnn.vision.datasets import MNIST
    ds = MNIST(train=train)
    images = ds.data.numpy()[:limit].astype(np.float32) / 255.0
    images = ((images - 0.1307) / 0.3081)[:, None]                 # ToTensor + Normalize, (N, 1, 28, 28)
    return np.ascontiguousarray(images), ds.targets.numpy()[:limit].astype(np.int64)


# ---- tinycnn ----------------------------------------------------------------------------------------------
def tinycnn_net():
    from tinycnn import nn
    from tinycnn.nn import functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)
            self.drop = nn.Dropout()

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = F.relu(self.fc1(x.reshape(-1, 320)))
            return F.log_softmax(self.fc2(self.drop(x)), dim=1)
    return Net()


def tinycnn_worker(rank, args, model, images, labels):
    import tinycnn
    from tinycnn import optim
    from tinycnn.nn import functional as F
    from tinycnn.utils.data import DataLoader, TensorDataset
    tinycnn.manual_seed(args.seed + rank)
    loader = DataLoader(TensorDataset(tinycnn.tensor(images), tinycnn.tensor(labels)), batch_size=64,
                        shuffle=True, seed=args.seed + rank)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    for _ in range(args.epochs):
        for x, y in loader:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()                             # in place, into the shared weights


def run_tinycnn(args, train, test) -> dict:
    import tinycnn
    import tinycnn.multiprocessing as mp
    from tinycnn.nn import functional as F
    tinycnn.manual_seed(args.seed)
    model = tinycnn_net().share_memory()
    start = time.perf_counter()
    procs = [mp.Process(target=tinycnn_worker, args=(rank, args, model, *train)) for rank in range(args.num_processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"mnist_hogwild: a training process ended with exit code {p.exitcode}")
    seconds = time.perf_counter() - start
    model.eval()
    with tinycnn.no_grad():
        out = model(tinycnn.tensor(test[0]))
        loss = float(F.nll_loss(out, tinycnn.tensor(test[1])).item())
        accuracy = float((out.numpy().argmax(1) == test[1]).mean())
    return {"library": "tinycnn", "accuracy": accuracy, "test_loss": loss, "seconds": seconds}


# ---- PyTorch ----------------------------------------------------------------------------------------------
def torch_worker(rank, args, model, images, labels):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    torch.manual_seed(args.seed + rank)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(images),
                                                                        torch.from_numpy(labels)),
                                         batch_size=64, shuffle=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    for _ in range(args.epochs):
        for x, y in loader:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()


def run_torch(args, train, test) -> dict:
    import torch
    import torch.multiprocessing as mp
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):          # the example's network
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = F.relu(self.fc1(x.view(-1, 320)))
            x = F.dropout(x, training=self.training)
            return F.log_softmax(self.fc2(x), dim=1)

    torch.manual_seed(args.seed)
    model = Net()
    model.share_memory()
    start = time.perf_counter()
    procs = [mp.Process(target=torch_worker, args=(rank, args, model, *train)) for rank in range(args.num_processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(test[0]))
        loss = float(F.nll_loss(out, torch.from_numpy(test[1])))
        accuracy = float((out.argmax(1).numpy() == test[1]).mean())
    return {"library": "torch", "accuracy": accuracy, "test_loss": loss, "seconds": seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--torch", action="store_true", help="run PyTorch's version instead")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    train, test = mnist_arrays(True, args.train_limit), mnist_arrays(False, args.test_limit)
    result = (run_torch if args.torch else run_tinycnn)(args, train, test)
    result.update(processes=args.num_processes, epochs=args.epochs, train_images=len(train[1]),
                  test_images=len(test[1]))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['library']}: {args.num_processes} Hogwild processes, {args.epochs} epoch(s) of "
              f"{len(train[1])} images each: test accuracy {100 * result['accuracy']:.2f}% (loss "
              f"{result['test_loss']:.4f}) in {result['seconds']:.1f} s")


if __name__ == "__main__":
    main()
