"""`python -m resnet_helpers.training`: the training command line (see `cli.py`)."""

import sys

from .cli import main

sys.exit(main())
