"""TensorBoard logging: ``SummaryWriter`` with PyTorch's interface, and ``TensorBoardLogger`` for training loops.

::

    from tinycnn.utils.tensorboard import SummaryWriter

    with SummaryWriter("runs/exp1") as writer:
        for step in range(100):
            writer.add_scalar("loss", loss, step)
        writer.add_histogram("conv1.weight", model[0].weight, step)

Then ``tensorboard --logdir runs``. Writing needs the ``tensorboard`` package (the ``tensorboard`` or ``viz``
extra); importing this module does not.
"""
from .callback import TensorBoardLogger
from .writer import FileWriter, SummaryWriter
