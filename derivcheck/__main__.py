"""`python -m derivcheck ...` is the `derivcheck` command."""

import sys

from derivcheck.cli import main

sys.exit(main())
