"""The exceptions sift raises: each carries sift's message and, where sift
has one, a hint of what to do."""

from __future__ import annotations

from typing import Optional


class SiftError(Exception):
    """Anything sift refused or failed to do."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class NotFoundError(SiftError):
    """No store at a path, or no version by a tag, id or prefix."""


class StoreError(SiftError):
    """A store's objects or catalog could not be read or written."""


class SpecError(SiftError):
    """A pipeline spec that does not parse or validate (nothing was written)."""


class RunError(SiftError):
    """A pipeline run that failed (nothing was committed)."""


class QueryError(SiftError):
    """SQL that does not plan or run."""
