"""``python -m scaling report|recommend`` (see :mod:`scaling.cli`)."""

import sys

from scaling.cli import main

if __name__ == "__main__":
    sys.exit(main())
