"""Check the target and the source before a load, one line per check: python doctor.py --help."""

import sys

from sparkify.checks.doctor import main

if __name__ == "__main__":
    sys.exit(main())
