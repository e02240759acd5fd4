"""Errors the domain raises; the API and CLI turn them into responses.

Each carries a stable ``code`` that scripts and API clients can rely on.
"""

from __future__ import annotations


class AmendsError(Exception):
    """Base of every error a user can cause and fix."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(AmendsError):
    code = "not_found"
    status = 404


class Conflict(AmendsError):
    code = "conflict"
    status = 409


class InvalidTransition(AmendsError):
    code = "invalid_transition"
    status = 409


class InvalidTime(AmendsError):
    code = "invalid_time"
    status = 422


class ValidationFailed(AmendsError):
    code = "validation_failed"
    status = 422


class ImportProblem:
    """One thing wrong with an import file, located precisely enough to fix:
    the file, the line (1-based, as an editor shows it) and the field."""

    __slots__ = ("field", "file", "line", "message")

    def __init__(self, file: str, line: int | None, field: str | None, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message

    @property
    def reason(self) -> str:
        """The message prefixed with its field, as the rejects report shows it."""
        return f"{self.field}: {self.message}" if self.field else self.message

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"ImportProblem({self.file!r}, {self.line!r}, {self.field!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImportProblem):
            return NotImplemented
        return (self.file, self.line, self.field, self.message) == (
            other.file,
            other.line,
            other.field,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.field, self.message))


class ImportRejected(AmendsError):
    """An import refused as a whole: nothing was written.

    Carries every problem found (up to the importer's limit) so the operator
    can fix the file in one pass rather than one error per run.
    """

    code = "import_rejected"
    status = 422

    def __init__(self, problems: list[ImportProblem], *, hint: str | None = None) -> None:
        first = problems[0]
        more = len(problems) - 1
        message = str(first)
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        if hint:
            message += f"; {hint}"
        super().__init__(message, field=first.field)
        self.problems = problems
        self.hint = hint
