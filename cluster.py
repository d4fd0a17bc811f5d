"""Create, inspect, pause and delete the Redshift cluster and its IAM role: python cluster.py --help."""

import sys

from sparkify.aws.cluster import main

if __name__ == "__main__":
    sys.exit(main())
