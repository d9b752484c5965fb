"""Exceptions the package raises besides ValueError and RuntimeError."""

from __future__ import annotations

from typing import Optional


class ScenarioError(ValueError):
    """A scenario that does not validate: the CLI's message, and where.

    ``file`` names the file (or ``<dict>``, ``<string>``, or the file with
    the ``with_`` changes), ``line`` and ``column`` are 1-based when the
    parser knows them, ``key`` is the dotted key path (``""`` for the top
    level; ``None`` when the file could not be read).
    """

    def __init__(
        self,
        message: str,
        file: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        key: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.key = key
