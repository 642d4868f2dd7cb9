"""`python -m package_broker.runtimes.server.cli`: the same as the `package-broker` command."""

import sys

from . import main

sys.exit(main())
