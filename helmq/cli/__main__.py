"""`python -m helmq.cli`: the helmq command."""

import sys

from helmq.cli.main import main

sys.exit(main())
