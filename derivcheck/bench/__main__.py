"""`python -m derivcheck.bench`: an alias of `derivcheck bench`."""

import sys

from derivcheck.bench.cli import main

sys.exit(main())
