"""sift from Python: a store's versions as Arrow, pandas, polars, Hugging
Face datasets and PyTorch data, and its queries, runs, diffs and
explanations, without exporting files.

    import sift_curate as sift
    store = sift.Store(".sift")                # or sift.init(path); $SIFT_STORE is the default
    v = store.version("web-quality")           # a tag, id or unique id prefix
    v.to_arrow(); v.to_pandas(); v.to_polars(); v.to_hf()
    for batch in v.iter_batches(batch_size=8192, columns=["text"], shuffle_seed=1, shard=(rank, world)):
        ...

The package is `sift-curate` on PyPI (`sift` is another project's name there,
and its `import sift` would clash); the import name is `sift_curate`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _sift
from .errors import NotFoundError, QueryError, RunError, SiftError, SpecError, StoreError

__all__ = [
    "Store",
    "Version",
    "init",
    "SiftError",
    "NotFoundError",
    "StoreError",
    "SpecError",
    "RunError",
    "QueryError",
]
__version__ = _sift.__version__

PathLike = Union[str, "os.PathLike[str]"]


def _default_path(path: Optional[PathLike]) -> str:
    if path is not None:
        return os.fspath(path)
    return os.environ.get("SIFT_STORE", ".sift")


def init(path: Optional[PathLike] = None, threads: Optional[int] = None) -> "Store":
    """Creates a store at `path` (default `$SIFT_STORE` or `.sift`), or opens the one there."""
    return Store._wrap(_sift.Store.init(_default_path(path), threads))


class Store:
    """A sift store: content-addressed versions, tags, and the pipeline cache."""

    def __init__(self, path: Optional[PathLike] = None, threads: Optional[int] = None) -> None:
        """Opens the store at `path` (default `$SIFT_STORE` or `.sift`) with `threads` threads (default: all cores)."""
        self._s = _sift.Store(_default_path(path), threads)

    @classmethod
    def _wrap(cls, s: "_sift.Store") -> "Store":
        store = cls.__new__(cls)
        store._s = s
        return store

    @property
    def path(self) -> str:
        return os.fspath(self._s.path)

    def __repr__(self) -> str:
        return f"sift_curate.Store({self.path!r})"

    def version(self, ref: str) -> "Version":
        """The version a tag, version id or unique id prefix names."""
        return Version(self._s.version(ref))

    def query(self, sql: str) -> "Any":
        """Runs SQL over the store's versions (every tag is a table) and returns a `pyarrow.Table`."""
        return self._s.query(sql)

    def log(self) -> List[Dict[str, Any]]:
        """Every version, newest first: id, content id, rows, bytes, tags, when, message."""
        return self._s.log()

    def tags(self) -> Dict[str, str]:
        """Tag name → version id."""
        return self._s.tags()

    def commit(self, data: Any, tag: Optional[str] = None, message: Optional[str] = None) -> "Version":
        """Versions a table: a `pyarrow.Table`, a pandas or polars frame, a
        Hugging Face `Dataset`, or anything with `__arrow_c_stream__`.
        The same rows give the same content id as `sift import` of them."""
        return Version(self._s.commit(_arrow_stream(data), tag, message))

    def run(
        self, spec: Union[PathLike, Dict[str, Any]], tag: Optional[str] = None, message: Optional[str] = None
    ) -> "Version":
        """Runs a pipeline and commits its result, as `sift run` does: a spec
        file (TOML or YAML), or a dict of the same fields (`{"source": {...},
        "stage": [...]}`), whose relative paths are then resolved against the
        working directory."""
        if isinstance(spec, dict):
            import json

            return Version(self._s.run(None, tag, message, json.dumps(spec)))
        return Version(self._s.run(os.fspath(spec), tag, message))

    def diff(
        self,
        a: str,
        b: str,
        key: Union[None, str, Sequence[str]] = None,
        label: Optional[str] = None,
        rows: int = 3,
    ) -> Dict[str, Any]:
        """What changed from `a` to `b`: the same data as `sift diff --json`."""
        keys = [key] if isinstance(key, str) else (list(key) if key is not None else None)
        return self._s.diff(a, b, keys, label, rows)

    def explain(self, ref: str, row: int) -> Dict[str, Any]:
        """Why source row `row` is in `ref`, or which stage and rule removed it
        (as `sift explain --json`); the first answer when the row repeats."""
        found = self._s.explain(ref, int(row))
        return found[0] if len(found) == 1 else found


class Version:
    """One immutable version: its identity, manifest and rows."""

    def __init__(self, v: "_sift.Version") -> None:
        self._v = v

    @property
    def id(self) -> str:
        """The version id (BLAKE3 of its manifest)."""
        return self._v.id

    @property
    def content_id(self) -> str:
        """BLAKE3 of the schema and the rows' fingerprints, in order: the same rows give the same id."""
        return self._v.content_id

    @property
    def rows(self) -> int:
        return self._v.rows

    @property
    def manifest(self) -> Dict[str, Any]:
        """The manifest: schema, segments, stats, lineage (as `sift show --json`)."""
        return self._v.manifest

    @property
    def schema(self) -> "Any":
        """The `pyarrow.Schema` of the rows."""
        return self._v.schema

    def __repr__(self) -> str:
        return f"sift_curate.Version({self.id[:12]}, rows={self.rows})"

    def __len__(self) -> int:
        return self.rows

    def to_arrow(self, columns: Optional[Sequence[str]] = None) -> "Any":
        """The rows as a `pyarrow.Table` (only `columns`, when given), handed over through Arrow's C interface."""
        return self._v.read(None, list(columns) if columns is not None else None)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The Arrow PyCapsule stream interface, for zero-copy consumers (polars, duckdb, …)."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def to_pandas(self, columns: Optional[Sequence[str]] = None) -> "Any":
        """The rows as a `pandas.DataFrame`."""
        return self.to_arrow(columns).to_pandas()

    def to_polars(self, columns: Optional[Sequence[str]] = None) -> "Any":
        """The rows as a `polars.DataFrame` (Arrow-backed)."""
        import polars

        return polars.from_arrow(self.to_arrow(columns))

    def to_hf(self, columns: Optional[Sequence[str]] = None) -> "Any":
        """The rows as a Hugging Face `datasets.Dataset`, backed by the Arrow table (no copy through Python)."""
        import datasets

        return datasets.Dataset(self.to_arrow(columns))

    def shard_segments(self, shard: Tuple[int, int] = (0, 1), shuffle_seed: Optional[int] = None) -> List[int]:
        """The segments shard `(rank, world)` reads: the segments, in a seeded
        order when `shuffle_seed` is given, dealt round-robin, so the shards
        are disjoint and together cover every row once."""
        rank, world = _check_shard(shard)
        order = list(range(self._v.segments))
        if shuffle_seed is not None:
            order = _permutation(len(order), shuffle_seed, 0)
        return order[rank::world]

    def iter_batches(
        self,
        batch_size: int = 8192,
        columns: Optional[Sequence[str]] = None,
        shuffle_seed: Optional[int] = None,
        shard: Tuple[int, int] = (0, 1),
    ) -> Iterator["Any"]:
        """`pyarrow.RecordBatch`es of at most `batch_size` rows.

        With `shard=(rank, world)`, this reader takes every `world`-th segment
        (see `shard_segments`): `world` readers together see each row exactly
        once, which is what a PyTorch `IterableDataset` needs per worker. With
        `shuffle_seed`, the segments come in a seeded order and each
        segment's rows are permuted by a seeded shuffle: the same seed gives
        the same order on any machine."""
        if batch_size < 1:
            raise SiftError(f"batch_size must be at least 1, got {batch_size}")
        cols = list(columns) if columns is not None else None
        segments = self.shard_segments(shard, shuffle_seed)
        # The next segment is read on a thread while this one is consumed
        # (a read releases the GIL).
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            def read(k: int) -> Any:
                return self._v.read([segments[k]], cols, shuffle_seed)

            ahead = pool.submit(read, 0) if segments else None
            for k in range(len(segments)):
                table = ahead.result()
                ahead = pool.submit(read, k + 1) if k + 1 < len(segments) else None
                for batch in table.to_batches(max_chunksize=batch_size):
                    if batch.num_rows:
                        yield batch


def _check_shard(shard: Tuple[int, int]) -> Tuple[int, int]:
    rank, world = shard
    if world < 1 or not 0 <= rank < world:
        raise SiftError(f"shard must be (rank, world) with 0 <= rank < world, got {shard!r}")
    return int(rank), int(world)


def _permutation(n: int, seed: int, stream: int) -> List[int]:
    """A permutation of range(n) from a seeded SplitMix64 (the same on every platform)."""
    return _sift.permutation(n, seed & ((1 << 64) - 1), stream)


def _arrow_stream(data: Any) -> Any:
    """An object with `__arrow_c_stream__` for `data`."""
    if hasattr(data, "__arrow_c_stream__"):
        return data
    try:
        import datasets

        if isinstance(data, datasets.Dataset):
            return data.data.table
    except ImportError:
        pass
    import pyarrow

    try:
        import pandas

        if isinstance(data, pandas.DataFrame):
            return pyarrow.Table.from_pandas(data, preserve_index=False)
    except ImportError:
        pass
    raise SiftError(
        f"cannot commit a {type(data).__name__}",
        "give a pyarrow.Table, a pandas or polars DataFrame, a datasets.Dataset, or an object with __arrow_c_stream__",
    )
