"""``python -m tinycnn``: the command line (see ``tinycnn.cli``)."""
import sys

from .cli import main

sys.exit(main())
