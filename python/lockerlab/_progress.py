"""Progress bars for long calls: tqdm's (``tqdm.auto`` picks the notebook
widget in Jupyter) when it is installed, nothing otherwise."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

ProgressArg = Union[bool, Callable[[int, int], Any], None]


class _Bar:
    def __init__(self, unit: str) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._unit = unit
        self._bar: Any = None

    def __call__(self, delta: int, total: int) -> None:
        if self._bar is None:
            # Shown only once a call has run for a while, as the CLI's bars.
            self._bar = self._tqdm(total=total, unit=self._unit, leave=False, delay=1.0)
        self._bar.update(delta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Progress:
    """What a call reports its progress to: ``progress=True`` (a tqdm bar
    if tqdm is installed), ``False``/``None`` (nothing), or a callable
    ``f(done_since_last_call, total)``."""

    def __init__(self, progress: ProgressArg, unit: str) -> None:
        self._bar: Optional[_Bar] = None
        self.callback: Optional[Callable[[int, int], Any]] = None
        if callable(progress):
            self.callback = progress
        elif progress:
            try:
                self._bar = _Bar(unit)
                self.callback = self._bar
            except ImportError:
                pass

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
