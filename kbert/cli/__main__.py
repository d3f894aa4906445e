"""`python -m kbert.cli` runs the `kbert` command."""

import sys

from kbert.cli import main

sys.exit(main())
