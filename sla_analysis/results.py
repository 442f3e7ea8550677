"""One result type for "computed, or not available because …".

An analysis that the export may not support returns a :class:`Result`: its value, or the reason it
has none, in a sentence a sales leader reads ("the deals have no amounts"). Pages show the value or
"not available: <reason>"; ``summary.json`` records ``null`` with the reason; nothing is ever
written as a zero in its place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class NotAvailableError(LookupError):
    """Asked for the value of a result that has none."""


@dataclass(frozen=True)
class Result(Generic[T]):
    """``Result.of(value)`` or ``Result.absent("why")``."""

    value: T | None = None
    reason: str | None = None

    @classmethod
    def of(cls, value: T) -> "Result[T]":
        return cls(value=value)

    @classmethod
    def absent(cls, reason: str) -> "Result[T]":
        if not reason:
            raise ValueError("an absent result needs its reason")
        return cls(reason=reason)

    @property
    def available(self) -> bool:
        return self.reason is None

    def get(self) -> T:
        """The value; :class:`NotAvailableError` (with the reason) when there is none."""
        if self.reason is not None:
            raise NotAvailableError(self.reason)
        return self.value  # type: ignore[return-value]

    def __bool__(self) -> bool:
        return self.available
