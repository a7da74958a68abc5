"""``python -m hpjax.cli``: the hpjax command."""

import sys

from .main import main

sys.exit(main())
