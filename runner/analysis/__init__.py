"""After a run: its prompts aligned with the board's series in Prometheus (``alignment``,
``promql``), the per-prompt CSV (``export``, its columns in ``csv_schema``), raw series
(``raw_export``) and the PNG report (``report``)."""
