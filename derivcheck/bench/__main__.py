"""`python -m derivcheck.bench`: an alias of `derivcheck bench`."""

import sys

from .cli import main

sys.exit(main())
