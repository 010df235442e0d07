"""The nightly batch: precompute every user's recommendations (``finadvisor batch``), on one machine or Ray.

inputs.py (where users come from) -> runner.py (bounded workers over the advisor) or ray_job.py (Ray Data) ->
output.py (append-only, resumable JSONL) and report.py (table + last-line JSON); cli.py wires the command.
"""
