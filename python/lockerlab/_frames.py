"""DataFrames to and from the native module, as Arrow IPC streams."""

from __future__ import annotations

import io
import os
from typing import Any, Optional, Tuple, Union

import polars as pl

FrameOrPath = Union["pl.DataFrame", Any, str, "os.PathLike[str]"]


def from_native(stream: bytes) -> pl.DataFrame:
    return pl.read_ipc_stream(io.BytesIO(stream))


def to_native(data: FrameOrPath) -> Tuple[Optional[str], Optional[bytes]]:
    """(path, None) for a file, (None, IPC stream) for a DataFrame (polars,
    or pandas through pyarrow)."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data), None
    if not isinstance(data, pl.DataFrame):
        try:
            data = pl.from_pandas(data)
        except (TypeError, ValueError) as e:
            raise TypeError(
                "expected a polars or pandas DataFrame, or the path of a .csv "
                f"or .parquet history file; got {type(data).__name__}"
            ) from e
    buf = io.BytesIO()
    # The oldest Arrow layout: the engine's polars reads it whatever the
    # version of the polars writing it.
    data.write_ipc_stream(buf, compat_level=pl.CompatLevel.oldest())
    return None, buf.getvalue()
