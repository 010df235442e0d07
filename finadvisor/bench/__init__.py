"""Load benchmark: concurrency sweeps against OpenAI-compatible servers and the advisor, plots, engine comparison.

stats.py     per-request measurements -> level statistics (TTFT, ITL, TPOT, percentiles, throughput)
workload.py  prompts and spending histories to send (unique-prefixed to defeat prefix caches)
client.py    one measured request (streamed SSE chat, advisor POST); failures become error kinds
runner.py    closed-loop sweep, Poisson open loop, warm-up, partial results on Ctrl-C
report.py    rich tables, results JSON, one-line summary, run-vs-run comparison
plots.py     matplotlib PNGs (Agg)
engines.py   same prompts through each in-process engine: tokens/s, TTFT, speed-up over transformers
cli.py       ``finadvisor bench``, ``bench compare``, ``bench engines``
"""
