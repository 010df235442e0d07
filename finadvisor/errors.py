"""The project's error hierarchy, converted to HTTP / CLI errors at the boundary.

FinadvisorError                 message + http status + OpenAI error type
├── InvalidRequest      400     bad input the client can fix (param names the field)
│   └── ContextOverflow 400     prompt longer than the context window
├── AuthError           401     missing/invalid API key or user token
├── NotFound            404     unknown model, user, service
├── ValidationFailed    422     well-formed JSON of the wrong shape
├── RateLimited         429     per-user limit reached (carries retry_after)
├── UpstreamError       502     a dependency (spending API, upstream LLM) answered badly
├── Overloaded          503     queue full / engine not ready (carries retry_after)
│   └── EngineUnavailable 503   engine not loaded or crashed
│   └── NotConfigured 503       the feature asked for is not configured on this server
├── UpstreamTimeout     504     a dependency did not answer in time
├── ModelOutputError    502     the LLM produced unusable output even after a retry
└── ConfigError         (CLI)   bad settings, missing files, checksum mismatch
"""

from __future__ import annotations


class FinadvisorError(Exception):
    status_code = 500
    error_type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


class InvalidRequest(FinadvisorError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextOverflow(InvalidRequest):
    pass


class AuthError(FinadvisorError):
    status_code = 401
    error_type = "authentication_error"


class NotFound(FinadvisorError):
    status_code = 404
    error_type = "not_found_error"


class ValidationFailed(FinadvisorError):
    status_code = 422
    error_type = "invalid_request_error"


class RateLimited(FinadvisorError):
    status_code = 429
    error_type = "rate_limit_error"


class UpstreamError(FinadvisorError):
    status_code = 502
    error_type = "upstream_error"


class ModelOutputError(FinadvisorError):
    status_code = 502
    error_type = "model_output_error"


class Overloaded(FinadvisorError):
    status_code = 503
    error_type = "overloaded_error"


class EngineUnavailable(Overloaded):
    pass


class NotConfigured(Overloaded):
    error_type = "not_configured"


class UpstreamTimeout(FinadvisorError):
    status_code = 504
    error_type = "timeout_error"


class ConfigError(FinadvisorError):
    status_code = 500
    error_type = "config_error"
