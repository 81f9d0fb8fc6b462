"""DER telemetry: ingestion, validation, queries and the monitoring status (:mod:`.ingest`);
the measurements in operation: measured PV and SoC for the intraday loop (:mod:`.loop`)."""
from gridint.telemetry.ingest import (FIELDS, IngestResult, ingest, list_devices, night_mask,
                                      parse_csv, query, register_device, status, to_csv)

__all__ = ["FIELDS", "IngestResult", "parse_csv", "ingest", "register_device", "list_devices",
           "query", "status", "night_mask", "to_csv"]
