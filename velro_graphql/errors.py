"""Domain errors: what services raise and clients may handle.

Each carries a stable `code` (the contract's error codes) and, where it is about one input,
the `field` it concerns. Anything else that escapes a service is a bug and is masked as
`INTERNAL` by the API.
"""

from __future__ import annotations


class VelroError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(VelroError):
    code = "UNAUTHENTICATED"


class Forbidden(VelroError):
    code = "FORBIDDEN"


class NotFound(VelroError):
    code = "NOT_FOUND"


class BadUserInput(VelroError):
    code = "BAD_USER_INPUT"


class InsufficientCredits(VelroError):
    code = "INSUFFICIENT_CREDITS"

    def __init__(self, *, required: int, available: int) -> None:
        super().__init__(
            f"This generation costs {required} credits and the balance is {available}.",
            field="modelId",
        )
        self.required = required
        self.available = available


class RateLimited(VelroError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelUnavailable(VelroError):
    code = "MODEL_UNAVAILABLE"


class UpstreamUnavailable(VelroError):
    code = "UPSTREAM_UNAVAILABLE"


class ConfigError(Exception):
    """The environment does not describe a server that can start."""
