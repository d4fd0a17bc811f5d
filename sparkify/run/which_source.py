"""Which source a run reads: ``--source``; else the one the warehouse holds; else the engine's default.

The default (the bundled sample on PostgreSQL, the config's ``[S3]`` paths on
Redshift) is only for a warehouse that holds nothing: a run without
``--source`` continues the source the ledger records, so the cron line never
replaces a warehouse with the sample. A run whose source differs from the one
the warehouse holds is refused under the run's lock unless ``--replace-source``
allows it (ledger.choose).
"""

import shlex

from sparkify.config import TargetError, source_locations
from sparkify.output.printable import printable
from sparkify.run.ledger import is_location, location_identity


def run_locations(engine, config, source_arg=None, held=None, required=None):
    """(the SourceLocations a run reads, a line to tell the user or None).

    ``held``: the one source the warehouse's ledger records (ledger.held_source),
    or None. ``required``: the settings to insist on (default: the engine's).
    """
    required = engine.required_settings if required is None else required
    if source_arg or held is None or not is_location(held):
        return source_locations(config, source_arg, engine.default_source, required), None
    try:
        default = source_locations(config, None, engine.default_source, required)
    except TargetError:  # no [S3] paths in the config: the source the warehouse holds is all there is
        default = None
    if default is not None and location_identity(default) == held:
        return default, None  # the config's own paths (its LOG_JSONPATH, say) for the same source
    note = None
    if default is not None and engine.default_source is None:  # [S3] paths that a person wrote
        other = location_identity(default)
        note = (f"warning: the config's [S3] paths name {printable(other)}, but the warehouse holds "
                f"{printable(held)}: this run continues {printable(held)}. To switch: "
                f"etl.py --source {shlex.quote(printable(other))} --replace-source")
    return source_locations(config, held, None, required), note
