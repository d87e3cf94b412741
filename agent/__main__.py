"""`python -m agent` is the same as the `onvif-agent` command."""

import sys

from .cli import main

sys.exit(main())
