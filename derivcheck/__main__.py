"""`python -m derivcheck ...` is the `derivcheck` command."""

import sys

from derivcheck.entry import main

sys.exit(main())
