"""The Sparkify warehouse: JSON logs and songs, staged and turned into a star schema.

The folders follow a run: ``config`` (dwh.cfg), ``sources`` (a folder or an
S3 prefix), ``engines`` (PostgreSQL, Redshift), ``run`` (one sequence, full or
daily), ``checks`` (reconciliation, pre-flight), ``output`` (progress and the
summary). The user's scripts (etl.py, create_tables.py, ...) are thin
command lines over it.
"""

__version__ = "1.0.0"
