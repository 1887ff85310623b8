"""Gradcheck cases for tinycnn.ops.misc."""
from ...ops.misc import channel_shuffle
from .common import Case, normal

CASES = [
    Case("channel_shuffle", lambda x: channel_shuffle(x, 3), normal((2, 6, 2, 2))),
]
