"""closedloop errors, rooted in one hierarchy whose branches tell the caller what to do.

::

    ClosedLoopError
    ├── ConfigError            the settings are invalid: fix the config file (exit 2)
    ├── MappingError           a field-mapping file is invalid: fix the mapping (exit 2)
    ├── StoreError             the state store cannot be reached or upgraded (exit 1)
    └── ConnectorError         a vendor call failed
        ├── FatalSyncError         abort the run
        ├── RetriableSyncError     back off and retry (429, 5xx, UNABLE_TO_LOCK_ROW)
        ├── ReauthenticateError    obtain a new token, then retry once
        └── SkippableSyncError     dead-letter the row with its reason, continue
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ClosedLoopError",
    "ConfigError",
    "ConfigProblem",
    "ConnectorError",
    "FatalSyncError",
    "MappingError",
    "ReauthenticateError",
    "RetriableSyncError",
    "SkippableSyncError",
    "StoreError",
]


class ClosedLoopError(Exception):
    """Base of every error closedloop raises on purpose.

    Attributes:
        exit_code: the CLI exit status this error maps to.
        hint: what the user should do next, when there is a clear answer.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the settings, located by key path and, when known, file line."""

    key: str
    message: str
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.source and self.line:
            where = f"{self.source}:{self.line}: "
        elif self.source:
            where = f"{self.source}: "
        else:
            where = ""
        return f"{where}{self.key}: {self.message}"


class ConfigError(ClosedLoopError):
    """The settings are invalid; ``problems`` lists every one of them."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem], *, hint: str | None = None) -> None:
        count = len(problems)
        summary = f"{count} problem{'s' if count != 1 else ''} in the configuration"
        super().__init__(summary, hint=hint)
        self.problems = problems


class MappingError(ClosedLoopError):
    """A field-mapping or channel-grouping file is invalid."""

    exit_code = 2


class StoreError(ClosedLoopError):
    """The state store cannot be reached, created or upgraded."""


class ConnectorError(ClosedLoopError):
    """A call to a vendor API failed."""


class FatalSyncError(ConnectorError):
    """The run cannot go on (bad credentials, missing scopes): abort it."""


class RetriableSyncError(ConnectorError):
    """A transient failure: back off and retry.

    Attributes:
        retry_after: seconds the vendor asked us to wait, when it said.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ReauthenticateError(ConnectorError):
    """The access token expired or was revoked: get a new one and replay the call once."""


class SkippableSyncError(ConnectorError):
    """This row (or batch) was refused; dead-letter it with its reason and continue.

    Attributes:
        status: the vendor's HTTP status, when there was one.
        body: the vendor's error body (never contains our credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body
