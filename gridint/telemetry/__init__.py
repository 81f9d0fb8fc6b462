"""DER telemetry: ingestion, validation, queries and the monitoring status (:mod:`.ingest`);
hourly roll-up, monthly partitions and retention (:mod:`.rollup`)."""
from gridint.telemetry.ingest import (FIELDS, IngestResult, ingest, list_devices, night_mask,
                                      parse_csv, query, register_device, status, to_csv)
from gridint.telemetry.rollup import apply_retention, ensure_partitions, list_partitions, rollup

__all__ = ["FIELDS", "IngestResult", "parse_csv", "ingest", "register_device", "list_devices",
           "query", "status", "night_mask", "to_csv",
           "rollup", "ensure_partitions", "list_partitions", "apply_retention"]
