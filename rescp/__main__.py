"""`python -m rescp` is the `rescp` command."""

import sys

from rescp.cli import main

sys.exit(main())
