"""DER telemetry.

- :mod:`.ingestion`: devices checked against the grid model, batch validation, idempotent
  inserts, queries and the monitoring status;
- :mod:`.retention`: hourly roll-up, PostgreSQL monthly partitions and retention;
- :mod:`.loop`: the measurements in operation (measured PV and SoC for the intraday loop);
- :mod:`.synthetic`: synthetic telemetry (simulator, demo, tests);
- :mod:`.report`: output of ``gridint telemetry``.
"""
from gridint.telemetry.ingestion import (FIELDS, IngestResult, ingest, list_devices, night_mask,
                                         parse_csv, query, register_device, status, to_csv)
from gridint.telemetry.retention import (apply_retention, ensure_partitions, list_partitions, query_hourly,
                                         rollup)

__all__ = ["FIELDS", "IngestResult", "parse_csv", "ingest", "register_device", "list_devices",
           "query", "status", "night_mask", "to_csv",
           "rollup", "ensure_partitions", "list_partitions", "apply_retention", "query_hourly"]
