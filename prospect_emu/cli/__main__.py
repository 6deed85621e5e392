"""``python -m prospect_emu.cli``."""

import sys

from . import main

sys.exit(main())
