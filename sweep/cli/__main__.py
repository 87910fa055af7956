"""``python -m sweep.cli``: the ``fanodome`` command."""
import sys

from . import main

sys.exit(main())
