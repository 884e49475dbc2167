"""`python -m evalkit.training SUITE [--steps N --lr X --seed S --out DIR]`."""

import sys

from evalkit.training.cli import main

sys.exit(main())
