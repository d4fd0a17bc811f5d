"""Query the warehouse etl.py loads: a table, CSV, psql, or the server kept up: python query.py --help."""

import sys

from sparkify.output.query import main

if __name__ == "__main__":
    sys.exit(main())
