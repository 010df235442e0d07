"""Prometheus metrics, with vLLM-style names under the ``finadvisor:`` prefix.

One ``Metrics`` object per app (its own registry), so tests and several apps in one process never collide.
Labels never carry user data: only model names, finish reasons, cache status and stage names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)
_ITL_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2)
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.running = Gauge(
            "finadvisor:num_requests_running", "Requests being decoded.", ["model_name"], registry=r
        )
        self.waiting = Gauge(
            "finadvisor:num_requests_waiting", "Requests waiting for a slot.", ["model_name"], registry=r
        )
        self.prompt_tokens = Counter(
            "finadvisor:prompt_tokens", "Prompt tokens processed.", ["model_name"], registry=r
        )
        self.generation_tokens = Counter(
            "finadvisor:generation_tokens", "Tokens generated.", ["model_name"], registry=r
        )
        self.ttft = Histogram(
            "finadvisor:time_to_first_token_seconds",
            "Time to first token.",
            ["model_name"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "finadvisor:inter_token_latency_seconds",
            "Time between streamed tokens.",
            ["model_name"],
            buckets=_ITL_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            "finadvisor:e2e_request_latency_seconds",
            "End-to-end request latency.",
            ["model_name"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.success = Counter(
            "finadvisor:request_success",
            "Finished requests by finish reason.",
            ["model_name", "finished_reason"],
            registry=r,
        )
        self.failures = Counter(
            "finadvisor:request_failure",
            "Failed requests by error type.",
            ["model_name", "error_type"],
            registry=r,
        )
        self.rejected = Counter(
            "finadvisor:request_rejected",
            "Requests refused because the queue was full.",
            ["model_name"],
            registry=r,
        )
        # advisor
        self.advisor_requests = Counter(
            "finadvisor:advisor_requests", "Recommendation requests by cache status.", ["cache"], registry=r
        )
        self.advisor_stage = Histogram(
            "finadvisor:advisor_stage_seconds",
            "Advisor time per stage.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        # Share of the model's text that was not good enough: fallbacks / texts (per kind), e.g.
        # rate(finadvisor:advisor_fallbacks_total{kind="template_reason"}[1h])
        #   / rate(finadvisor:advisor_texts_total{part="reason"}[1h])
        self.advisor_texts = Counter(
            "finadvisor:advisor_texts",
            "Texts the model was asked for (one reason per service).",
            ["part"],
            registry=r,
        )
        self.advisor_fallbacks = Counter(
            "finadvisor:advisor_fallbacks",
            "Model text replaced or repaired: "
            "template_reason, dropped_sentence, truncated_output, regenerated_output; "
            "ranker_added = services added because nothing fitted.",
            ["kind"],
            registry=r,
        )
        # every reason shown, counted once when it is written, by who wrote it: "model" (its sentence passed the
        # check) or "template" (the advisor's facts and the catalog's figures or words)
        self.advisor_reasons = Counter(
            "finadvisor:advisor_reasons",
            "Reasons written, by writer: model or template.",
            ["writer"],
            registry=r,
        )
        for writer in (
            "model",
            "template",
        ):  # both series exist from the start, so a ratio is never undefined
            self.advisor_reasons.labels(writer)
        self.advisor_errors = Counter(
            "finadvisor:advisor_errors", "Recommendation failures by error type.", ["error_type"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
