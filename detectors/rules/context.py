"""Per-batch field access shared by every rule: columns, raw paths, raw-text screens, enrichments.

Rules never parse ``raw`` themselves. They ask the batch context for a field over a set of rows;
columns come from the frame (vectorized, lower-cased once per batch), raw dotted paths are
extracted with orjson only for the rows some rule still needs (after its column-only prefilter),
and both are cached so that thirty rules asking for ``action`` or ``requestParameters.principal``
pay once.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detectors.rules import enrich, fields
from detectors.rules.matchers import to_bool
from detectors.rules.rawbytes import (
    RawBytes,
    RowText,
    ascii_only,
    chunk_groups,
    chunk_of,
    chunk_starts,
    joined,
)
from detectors.rules.rawpaths import PathDecoder, decoder_for, walk
from detectors.rules.values import Values, any_per_row, nested_strings, to_text
from pipelines.events import EVENT_COLUMNS, events_from_arrow, events_to_arrow
from pipelines.normalize.carried import KNOWN

RawFetch = Callable[[Sequence[str]], Mapping[str, "str | None"]]
"""Raw records by event id, for a batch read without ``raw`` (``scoring.partitions.RawFetcher``)."""

UNICODE_ESCAPE = r"\\u"
"""A raw text with a ``\\u`` escape, or any non-ASCII character, is never dropped by a screen
(``screen``: case folding beyond ASCII, characters a writer chose to escape)."""

COLUMN_FIELDS = frozenset(EVENT_COLUMNS) - {"raw"}
"""Fields a rule may name that are event-model columns (everything else is a raw path)."""


def field_kind(name: str) -> str:
    """How a name ``resolve`` returned is read: ``column``, ``column_enrichment``, ``alias`` (a
    column on one provider's rows), ``raw_enrichment``, ``derived`` (computed from the raw
    record), ``keywords`` (the raw record's text) or ``raw`` (a dotted raw path)."""
    if name in COLUMN_FIELDS:
        return "column"
    if name in enrich.COLUMN_ENRICHMENTS:
        return "column_enrichment"
    if name in fields.ALIASES:
        return "alias"
    if name in enrich.RAW_ENRICHMENTS:
        return "raw_enrichment"
    if name in fields.DERIVED:
        return "derived"
    if name == fields.KEYWORDS:
        return "keywords"
    return "raw"


_ROW_LEVEL = frozenset({"raw", "raw_enrichment", "derived", "keywords"})
_ENRICHMENT_COLUMNS = frozenset({"provider", "account", "principal", "principal_type", "session"})


def columns_of(name: str) -> frozenset[str]:
    """The event-model columns a field (as a rule writes it) is computed from, for callers that
    keep only some columns of a batch (``windows``); a row-level field needs ``raw`` too."""
    out: set[str] = set()
    for read in fields.resolve(name):
        kind = field_kind(read)
        if kind == "column":
            out.add(read)
        elif kind == "alias":
            out.update({*fields.ALIASES[read].columns, "provider", "principal"})
        elif kind == "column_enrichment":
            out.update(_ENRICHMENT_COLUMNS)
        else:
            out.update({"raw", "account"})
    return frozenset(out)


def is_row_level(name: str) -> bool:
    """True when the field (as a rule writes it) needs the raw record, so it is only read for
    the rows a column-only prefilter let through."""
    return any(field_kind(read) in _ROW_LEVEL for read in fields.resolve(name))


class Distinct(NamedTuple):
    """A field's distinct values over a batch: ``uniques``, and per element of its values the
    index of the element's value among them (``codes``, -1 for null); element ``i`` belongs to
    row ``owner[i]`` (None: element ``i`` is row ``i``)."""

    codes: np.ndarray
    uniques: pa.Array
    owner: np.ndarray | None

    def any_per_row(self, n: int, element_match: np.ndarray) -> np.ndarray:
        """Per row of the batch's ``n``: does any of its elements match?"""
        return any_per_row(n, self.owner, element_match)


class BatchContext:
    """Everything rules read from one batch, computed at most once.

    With ``raw_fetch`` the batch's ``raw`` column is not read: records are fetched by id for the
    rows that need them, in as few calls as the engine can batch (``prefetch``). A day's raw
    JSON is two thirds of its memory, and rules read it for well under 1% of rows.
    """

    def __init__(
        self,
        events: pd.DataFrame,
        raw_fetch: RawFetch | None = None,
        carried: pa.Table | None = None,
    ) -> None:
        # Columns stay in the chunks the batch came in (~200 for a day read from many files)
        # until a rule reads them: ``column`` then copies one into a single chunk, once (every
        # take/filter over a chunked Arrow column costs ~100x more). Combining every column up
        # front copied 136 MB at 288k events, 0.2 s mostly page faults, a third of it columns no
        # rule reads (``origin`` alone is 42 MB). Not ``raw`` ever: it is most of the batch's
        # bytes (copying 300 MB of a 290k-event day cost 1-2 s, most of it page faults) and
        # rules read it in a few whole-column passes and one take.
        self._source = events_to_arrow(events)
        self._columns: dict[str, pa.Array] = {}
        self._table: pa.Table | None = None
        self._events: pd.DataFrame | None = None
        self._no_rows: np.ndarray | None = None
        self._no_rows_packed: np.ndarray | None = None
        self.n = self._source.num_rows
        self.time_ns = self._source.column("time").cast(pa.int64()).to_numpy()
        """Event times as int64 microseconds since the epoch (cheap to sort and slice)."""
        self._text: dict[str, pa.Array] = {}
        self._records: dict[int, Any] = {}
        self._partial: dict[int, tuple[PathDecoder, Any]] = {}
        """Rows decoded for some raw paths only: (the paths' ``PathDecoder``, the Structs)."""
        self._raw_fetch = raw_fetch
        self._raw: dict[int, str | None] = {}
        self._raw_bytes: RawBytes | None = None
        self._raw_values: dict[str, dict[int, list[Any]]] = {}
        self._wanted: dict[str, set[int]] = {}
        self.masks: dict[str, np.ndarray] = {}
        """Row masks of evaluated rules by rule id, for correlations to build on."""
        self.pending: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        """Per rule id: (decided matches as ``np.packbits``, undecided rows) between
        ``prepare`` and ``evaluate``."""
        self._scopes: dict[str, np.ndarray] = {}
        self._screens: dict[tuple[str, ...], np.ndarray] = {}
        self._unsure: np.ndarray | None = None
        """Per row, once its chunk is worked out: never screened out (``_raw_unsure``)."""
        self._unsure_done = np.zeros(0, dtype=bool)
        self._raw_starts = np.zeros(1, dtype=np.int64)
        self._row_text: RowText | None = None
        self._aliases: dict[str, Values] = {}
        self._distinct: dict[str, Distinct] = {}
        self.samples: dict[int, dict[str, Any]] = {}
        """Evidence sample records by row, built once for every alert that shows them."""
        self.memo: dict[tuple[str, str], np.ndarray] = {}
        """Leaf results rules share, keyed by (field, predicate key): over the whole frame,
        bit-packed; and, under ``values/<field>``, one bool per distinct value of the field
        (``Leaf._value_hits``)."""
        self._carried: dict[str, pa.Array] = {}
        """Raw paths the normalizer decoded (``normalize.carried``), exact where ``_known``."""
        self._known = np.zeros(self.n, dtype=bool)
        if carried is not None and carried.num_rows == self.n:
            self._known = to_bool(carried.column(KNOWN))
            self._carried = {
                name: carried.column(name).combine_chunks()
                for name in carried.column_names
                if name != KNOWN
            }

    # -- columns -----------------------------------------------------------------------------
    def column(self, name: str) -> pa.Array:
        """An event-model column other than ``raw`` in one chunk (copied on first use unless
        the batch had it in one already)."""
        found = self._columns.get(name)
        if found is None:
            chunked = self._source.column(name)
            found = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
            self._columns[name] = found
        return found

    @property
    def no_rows(self) -> np.ndarray:
        """An all-False row mask, read-only, shared by every rule that matches nothing in the
        batch: a fresh mask per rule was ~300 x 288 KB of new pages at 288k events (14k page
        faults, ~0.15 s of system time), for rules most of which match nothing."""
        if self._no_rows is None:
            self._no_rows = np.zeros(self.n, dtype=bool)
            self._no_rows.flags.writeable = False
        return self._no_rows

    @property
    def no_rows_packed(self) -> np.ndarray:
        """``no_rows`` as ``np.packbits`` gives it, shared the same way."""
        if self._no_rows_packed is None:
            self._no_rows_packed = np.packbits(self.no_rows)
            self._no_rows_packed.flags.writeable = False
        return self._no_rows_packed

    @property
    def raw(self) -> pa.ChunkedArray:
        """The ``raw`` column in the chunks the batch came in (never copied whole)."""
        return self._source.column("raw")

    @property
    def table(self) -> pa.Table:
        """The batch as one Arrow table, every column but ``raw`` in one chunk: for callers
        that filter whole rows (``windows``, ``stream``); it combines every column."""
        if self._table is None:
            self._table = pa.table(
                [self.raw if name == "raw" else self.column(name) for name in EVENT_COLUMNS],
                schema=self._source.schema,
            )
        return self._table

    @property
    def events(self) -> pd.DataFrame:
        """The batch as a DataFrame (Python rules and their candidates): the single-chunk copy
        of each column rules have read by then, the others in the chunks the batch came in.
        Python rules compare a few columns and take a few rows; building this over ``table``
        copied every column (~136 MB of fresh pages at 288k events) for them."""
        if self._events is None:
            self._events = events_from_arrow(
                pa.table(
                    [
                        self._columns[name] if name in self._columns else self._source[name]
                        for name in EVENT_COLUMNS
                    ],
                    schema=self._source.schema,
                )
            )
        return self._events

    def take_columns(self, rows: np.ndarray | list[int]) -> pa.Table:
        """Every column but ``raw`` at ``rows``: from the single-chunk copy of a column rules
        have read, else chunk by chunk (``take_chunked``), so that the evidence of a few
        hundred alerts combines no column."""
        names = [name for name in EVENT_COLUMNS if name != "raw"]
        positions = np.asarray(rows, dtype=np.int64)
        return pa.table(
            [
                self._columns[name].take(pa.array(positions, pa.int64()))
                if name in self._columns
                else take_chunked(self._source.column(name), positions)
                for name in names
            ],
            schema=pa.schema([self._source.schema.field(name) for name in names]),
        )

    def column_text(self, name: str) -> pa.Array:
        """A column, column enrichment or alias (its first column) over the whole batch, as
        strings."""
        if name not in self._text:
            alias = fields.ALIASES.get(name)
            if alias is not None:
                array = pc.if_else(
                    pa.array(self.rows_of(alias.rows)),
                    self.column_text(alias.columns[0]),
                    pa.scalar(None, pa.string()),
                )
            elif name in COLUMN_FIELDS:
                array = self.column(name)
            else:
                array = pa.array(
                    enrich.COLUMN_ENRICHMENTS[name](self._enrichment_frame()), from_pandas=True
                )
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            if pa.types.is_boolean(array.type):
                array = pc.if_else(array, "true", "false")
            elif not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
                array = pc.cast(array, pa.string())
            self._text[name] = array
        return self._text[name]

    def _enrichment_frame(self) -> pd.DataFrame:
        """The columns column enrichments read, as a DataFrame (not ``events``, which would
        combine every column)."""
        return pd.DataFrame(
            {
                name: pd.arrays.ArrowExtensionArray(self.column(name))
                for name in sorted(_ENRICHMENT_COLUMNS)
            },
            copy=False,
        )

    def rows_of(self, scope: fields.RowScope) -> np.ndarray:
        """Rows of one provider (``aws``, ``gcp``) or Cloud Audit Logs entries (``gcp_audit``:
        the normalizer names a principal for every audit entry, ``anonymous`` at least, and
        none for a request log)."""
        mask = self._scopes.get(scope)
        if mask is None:
            provider = "aws" if scope == "aws" else "gcp"
            mask = to_bool(pc.equal(self.column("provider"), provider))
            if scope == "gcp_audit":
                mask &= to_bool(pc.is_valid(self.column("principal")))
            self._scopes[scope] = mask
        return mask

    def _alias_values(self, name: str) -> Values:
        """An alias over the whole batch: its first column, and each further column where it
        differs (``eventName``: the logged name, then the name without its API version)."""
        cached = self._aliases.get(name)
        if cached is None:
            alias = fields.ALIASES[name]
            first = self.column_text(name)
            owners, texts = [np.arange(self.n)], [first]
            for column in alias.columns[1:]:
                other = self.column_text(column)
                differs = to_bool(pc.not_equal(first, other))  # null where either is null
                rows = np.flatnonzero(differs)
                owners.append(rows)
                texts.append(other.take(pa.array(rows, pa.int64())))
            if len(texts) == 1:
                cached = Values(self.n, None, first)
            else:
                cached = Values(self.n, np.concatenate(owners), pa.concat_arrays(texts))
            self._aliases[name] = cached
        return cached

    # -- raw text ------------------------------------------------------------------------------
    @property
    def can_screen(self) -> bool:
        """Raw-text screens need the batch's ``raw`` column (not records fetched by id)."""
        return self._raw_fetch is None

    def raw_contains(self, literals: str | Iterable[str], rows: np.ndarray) -> np.ndarray:
        """Per row of ``rows``: may the raw text hold any of ``literals`` (lower-case ASCII)?
        False only when it surely does not (``screen``); each row is searched once per set of
        literals, all of them in one pass."""
        key = tuple(sorted({literals} if isinstance(literals, str) else set(literals)))
        known = self._screens.get(key)
        if known is None:
            known = self._screens[key] = np.full(self.n, -1, dtype=np.int8)
        todo = rows[known[rows] < 0]
        if len(todo):
            pattern = "|".join(ascii_caseless(literal) for literal in key)
            # One pass over the column (~0.11 s for 296 MiB) beats taking more than an eighth
            # of its rows (a take of 30k rows of 288k costs ~0.08 s, of 70k ~0.5 s).
            if len(todo) > self.n // 8:
                found = pc.match_substring_regex(self.raw, pattern)
                known[:] = to_bool(found) | self._raw_unsure(None)
            else:
                known[todo] = self._search_rows(todo, pattern) | self._raw_unsure(todo)
        return known[rows] == 1

    def _search_rows(self, rows: np.ndarray, pattern: str) -> np.ndarray:
        """Per row of ``rows``: does its raw text match ``pattern``? The rows' texts are
        arranged for searching (``RowText``) once and reused while the screens ask for the same
        rows or most of them (a provider's rows, rule after rule). One arrangement is kept at a
        time; its copies (rows scattered thinly over a chunk) are at most an eighth of the
        column's rows."""
        text = self._row_text
        if text is not None:
            if len(text.rows) == len(rows) and np.array_equal(text.rows, rows):
                return text.search(pattern)
            at = text.positions(rows)
            if at is not None:
                return text.search(pattern)[at]
        self._row_text = RowText(self.raw, rows)
        return self._row_text.search(pattern)

    def _raw_unsure(self, rows: np.ndarray | None) -> np.ndarray:
        """Per row of ``rows`` (None: every row): may no screen drop it (``screen``), as its
        text has a non-ASCII character or a ``\\u`` escape?

        Worked out per chunk of ``raw``, only for the chunks holding the rows asked for (the
        screens of one provider's rows need a fifteenth of a day's chunks). A chunk whose bytes
        are all ASCII (one ``max`` over its data) needs no per-row ASCII test; the escape is
        one RE2 search (memchr-driven) of the chunk's text as a whole, then per row only in a
        chunk where it hits.
        """
        raw = self.raw
        if self._unsure is None:
            self._unsure = np.zeros(self.n, dtype=bool)
            self._unsure_done = np.zeros(raw.num_chunks, dtype=bool)
            self._raw_starts = chunk_starts(raw)
        starts = self._raw_starts
        wanted = range(raw.num_chunks) if rows is None else np.unique(chunk_of(starts, rows))
        for c in wanted:
            if self._unsure_done[c]:
                continue
            chunk = raw.chunk(int(c))
            if pc.match_substring_regex(joined(chunk), UNICODE_ESCAPE).true_count:
                unsure = to_bool(pc.match_substring_regex(chunk, UNICODE_ESCAPE))
            else:
                unsure = np.zeros(len(chunk), dtype=bool)
            if not ascii_only(chunk):
                unsure |= to_bool(pc.invert(pc.string_is_ascii(chunk)))
            self._unsure[int(starts[c]) : int(starts[c + 1])] = unsure
            self._unsure_done[c] = True
        return self._unsure if rows is None else self._unsure[rows]

    def distinct(self, name: str, *, carried: bool = False) -> Distinct:
        """A column-level field's distinct values and, per element of ``values(name, None)``
        (``carried_values`` with ``carried``), the index of its value among them (-1 for
        null); computed once per batch."""
        key = f"{KNOWN}/{name}" if carried else name
        found = self._distinct.get(key)
        if found is None:
            alias = None if carried else fields.ALIASES.get(name)
            if alias is not None and len(alias.columns) == 1:
                # the column's own codes outside the alias's rows made null: no second
                # encoding of a masked copy of the column (~25 ms a field at 288k events)
                column = self.distinct(alias.columns[0])
                codes = np.where(self.rows_of(alias.rows), column.codes, np.int32(-1))
                found = Distinct(codes, column.uniques, None)
            else:
                values = self.carried_values(name) if carried else self.values(name, None)
                encoded = pc.dictionary_encode(values.text)
                codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
                found = Distinct(
                    np.asarray(codes, dtype=np.int32), encoded.dictionary, values.owner
                )
            self._distinct[key] = found
        return found

    def want(self, fields: Iterable[str], rows: np.ndarray) -> None:
        """Declare that these row-level fields will be read for these rows (batched parsing);
        a carried field only where its column is not known."""
        for name in fields:
            todo = rows[~self._known[rows]] if name in self._carried else rows
            if len(todo):
                self._wanted.setdefault(name, set()).update(todo.tolist())

    # -- raw paths carried as columns ----------------------------------------------------------
    def carried_rows(self, names: Iterable[str]) -> np.ndarray | None:
        """Rows where every one of ``names`` is a carried column equal to its raw value; None
        when some name is not carried (read from the raw record, as usual)."""
        if not self._carried or any(name not in self._carried for name in names):
            return None
        return self._known

    def carried_values(self, name: str) -> Values:
        """A carried path over the whole batch; its values hold only where ``carried_rows``."""
        return Values(self.n, None, self._carried[name])

    def load(self) -> None:
        """Read every wanted field of the rows that want it, once for all rules.

        Rows that only raw paths want are decoded for those paths alone (``PathDecoder``);
        rows a raw enrichment wants are parsed whole, once.
        """
        if not self._wanted:
            return
        if self._raw_fetch is not None:  # records by id, in one call
            self.prefetch(np.fromiter(set().union(*self._wanted.values()), dtype=np.int64))
        elif fields.KEYWORDS in self._wanted:  # keyword searches read the text as a string
            self.prefetch(np.fromiter(self._wanted[fields.KEYWORDS], dtype=np.int64))
        paths = {self._path_of(name) for name in self._wanted} - {None}
        whole = set().union(
            *(rows for name, rows in self._wanted.items() if self._path_of(name) is None)
        )
        collecting = gc.isenabled()
        # Parsed records are many small objects; GC passes over them would cost more than the
        # parsing itself (as in the normalizer, PERFORMANCE.md).
        gc.disable()
        try:
            if paths:
                self._decode_paths(frozenset(p for p in paths if p), whole)
            for name, rows in self._wanted.items():
                if name != fields.KEYWORDS:  # read straight from the raw text
                    self._extract(name, rows)
        finally:
            if collecting:
                gc.enable()
        self._wanted.clear()

    @staticmethod
    def _path_of(name: str) -> str | None:
        """The raw path a wanted field reads (None: it needs the whole record or its text)."""
        kind = field_kind(name)
        if kind == "raw":
            return name
        if kind == "derived":
            return fields.DERIVED[name].path
        return None

    def _decode_paths(self, paths: frozenset[str], whole: set[int]) -> None:
        """Decode the wanted paths of the rows that need nothing else (and are not parsed)."""
        rows = set().union(*(r for name, r in self._wanted.items() if self._path_of(name) in paths))
        decoder = decoder_for(paths)
        todo = sorted(rows - whole - self._records.keys() - self._partial.keys())
        for r, raw in zip(todo, self._raw_of(todo), strict=True):
            decoded = decoder.decode(raw) if raw else None
            if decoded is not None:
                self._partial[r] = (decoder, decoded)

    def _raw_of(self, rows: list[int]) -> Sequence[str | memoryview | None]:
        """The raw records of ``rows`` for a decoder: views of the batch's ``raw`` column (no
        copy, ``rawbytes``), or the texts ``raw_fetch`` returned."""
        if self._raw_fetch is not None:
            self.prefetch(np.asarray(rows, dtype=np.int64))
            return [self._raw[r] for r in rows]
        if self._raw_bytes is None:
            self._raw_bytes = RawBytes(self.raw)
        return self._raw_bytes.many(rows)

    def prefetch(self, rows: np.ndarray) -> None:
        """Read the raw records of these rows in one call: from the batch's ``raw`` column (one
        Arrow take, not a pandas lookup per row) or, without it, from ``raw_fetch``."""
        missing = [r for r in dict.fromkeys(rows.tolist()) if r not in self._raw]
        if not missing:
            return
        positions = pa.array(missing, pa.int64())
        if self._raw_fetch is None:
            texts = take_chunked(self.raw, np.asarray(missing)).to_pylist()
            self._raw.update(zip(missing, texts, strict=True))
            return
        ids = self.column("id").take(positions).to_pylist()
        found = self._raw_fetch(ids)
        for row, event_id in zip(missing, ids, strict=True):
            self._raw[row] = found.get(event_id)

    def raw_text(self, row: int) -> str | None:
        """A row's raw record as logged (JSON text)."""
        if row not in self._raw:
            self.prefetch(np.array([row]))
        value = self._raw[row]
        return value if isinstance(value, str) else None

    def record(self, row: int) -> Any:
        """The parsed raw record of a row (cached; a record that does not parse reads as {})."""
        rec = self._records.get(row)
        if rec is None:
            raw = self._raw.get(row) if row in self._raw else self._raw_of([row])[0]
            try:
                rec = orjson.loads(raw) if isinstance(raw, str | memoryview) and raw else {}
            except orjson.JSONDecodeError:
                rec = {}
            self._records[row] = rec
        return rec

    def _extract(self, name: str, rows: Iterable[int]) -> dict[int, list[Any]]:
        cache = self._raw_values.setdefault(name, {})
        missing = [r for r in rows if r not in cache]
        if not missing:
            return cache
        if name in enrich.RAW_ENRICHMENTS:
            derive = enrich.RAW_ENRICHMENTS[name]
            accounts = self.column_text("account").take(pa.array(missing, pa.int64())).to_pylist()
            for r, account in zip(missing, accounts, strict=True):
                cache[r] = derive(self.record(r), account)
        elif name in fields.DERIVED:
            derived = fields.DERIVED[name]
            parts = derived.path.split(".")
            for r in missing:
                cache[r] = derived.compute(self._leaves(r, derived.path, parts))
        else:
            parts = name.split(".")
            for r in missing:
                cache[r] = self._leaves(r, name, parts)
        return cache

    def _leaves(self, row: int, path: str, parts: list[str]) -> list[Any]:
        """``path``'s leaves in a row: from its path-only decoding when that has the path, else
        from the whole parsed record."""
        partial = self._partial.get(row)
        if partial is not None and path in partial[0].paths:
            return partial[0].leaves(partial[1], path)
        return walk(self.record(row), parts)

    def raw_list(self, name: str, row: int) -> list[Any]:
        """The values of a row-level field for one row (for titles and tests)."""
        return self._extract(name, [row])[row]

    # -- any field over a subset of rows -------------------------------------------------------
    def values(self, name: str, rows: np.ndarray | None) -> Values:
        """The field (as a rule writes it) over ``rows`` (positions; None = whole batch),
        original case; a field that reads several names has the elements of all of them."""
        reads = fields.resolve(name)
        return Values.union([self._read(read, rows) for read in reads])

    def _read(self, name: str, rows: np.ndarray | None) -> Values:
        kind = field_kind(name)
        if kind == "alias" and len(fields.ALIASES[name].columns) > 1:
            full = self._alias_values(name)
            return full if rows is None else full.take(rows)
        if kind in ("column", "column_enrichment", "alias"):
            text = self.column_text(name)
            if rows is not None:
                text = text.take(pa.array(rows, pa.int64()))
            return Values(self.n if rows is None else len(rows), None, text)
        positions = np.arange(self.n) if rows is None else rows
        if kind == "keywords":
            raws = [self.raw_text(r) for r in positions.tolist()]
            return Values(len(positions), None, pa.array(raws, pa.string()))
        if name in self._carried:
            return self._carried_read(name, positions)
        return self._raw_read(name, positions)

    def _carried_read(self, name: str, positions: np.ndarray) -> Values:
        """A carried path over ``positions``: the column where it is known, the raw record
        elsewhere."""
        known = self._known[positions]
        column = self._carried[name]
        if known.all():
            return Values(len(positions), None, column.take(pa.array(positions, pa.int64())))
        inside, outside = np.flatnonzero(known), np.flatnonzero(~known)
        rest = self._raw_read(name, positions[outside])
        assert rest.owner is not None
        return Values(
            len(positions),
            np.concatenate([inside, outside[rest.owner]]),
            pa.concat_arrays([column.take(pa.array(positions[inside], pa.int64())), rest.text]),
        )

    def _raw_read(self, name: str, positions: np.ndarray) -> Values:
        """A raw path (or a field derived from the raw record) over ``positions``."""
        cache = self._extract(name, positions.tolist())
        owner: list[int] = []
        texts: list[str | None] = []
        for i, r in enumerate(positions.tolist()):
            found = cache[r]
            if len(found) == 1 and found[0].__class__ is str:  # most rows: one string
                owner.append(i)
                texts.append(found[0])
                continue
            for v in found:
                owner.append(i)
                texts.append(to_text(v))
                if isinstance(v, dict | list):  # a whole object: its strings match too
                    for inner in nested_strings(v):
                        owner.append(i)
                        texts.append(inner)
        return Values(
            len(positions), np.asarray(owner, dtype=np.int64), pa.array(texts, pa.string())
        )

    def first_values(self, name: str, rows: np.ndarray) -> list[str | None]:
        """One text value per row (the first), for group-by keys, dedup keys and titles."""
        out: list[str | None] = [None] * len(rows)
        for read in fields.resolve(name):
            found = self._first(read, rows)
            out = [a if a is not None else b for a, b in zip(out, found, strict=True)]
        return out

    def first_array(self, name: str, rows: np.ndarray) -> pa.Array:
        """``first_values`` as an Arrow string array: a column field is taken from its column,
        never turned into Python strings (group keys over a correlation's base rows)."""
        out: pa.Array | None = None
        for read in fields.resolve(name):
            if field_kind(read) in ("column", "column_enrichment", "alias"):
                found = self.column_text(read).take(pa.array(rows, pa.int64()))
            elif read in self._carried and self._known[rows].all():
                found = self._carried[read].take(pa.array(rows, pa.int64()))
            else:
                found = pa.array(self._first(read, rows), pa.string())
            out = found if out is None else pc.coalesce(out, found)
        return out if out is not None else pa.nulls(len(rows), pa.string())

    def _first(self, name: str, rows: np.ndarray) -> list[str | None]:
        kind = field_kind(name)
        if kind in ("column", "column_enrichment", "alias"):
            return self.column_text(name).take(pa.array(rows, pa.int64())).to_pylist()
        if kind == "keywords":
            return [self.raw_text(r) for r in rows.tolist()]
        if name in self._carried and self._known[rows].all():
            return self._carried[name].take(pa.array(rows, pa.int64())).to_pylist()
        cache = self._extract(name, rows.tolist())
        out: list[str | None] = []
        for r in rows.tolist():
            vals = cache[r]
            if not vals:
                out.append(None)
            elif len(vals) == 1:
                out.append(to_text(vals[0]))
            else:
                out.append(", ".join(t for t in map(to_text, vals) if t is not None))
        return out


def ascii_caseless(literal: str) -> str:
    """An RE2 pattern matching ``literal`` with ASCII letters in either case: ``root`` ->
    ``[rR][oO][oO][tT]``.

    Why not ``ignore_case``: RE2 then folds case by Unicode rules, which is ~2.5x slower over
    a day's raw column (0.29 s against 0.11 s for 296 MiB) and buys nothing here, since a row
    with any non-ASCII text is never screened out (``_raw_unsure``); on ASCII text, ASCII case
    folding is all there is.
    """
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c)
        for c in literal
    )


def take_chunked(column: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``column.take(rows)`` chunk by chunk: Arrow's own take over a chunked string column first
    concatenates every chunk (the whole ``raw`` column, per call)."""
    if column.num_chunks == 1:
        return column.chunk(0).take(pa.array(rows, pa.int64()))
    starts = chunk_starts(column)
    groups = chunk_groups(chunk_of(starts, rows))
    if not groups:
        return pa.array([], column.type)
    grouped = pa.concat_arrays(
        [column.chunk(c).take(pa.array(rows[group] - starts[c], pa.int64())) for c, group in groups]
    )
    order = np.concatenate([group for _, group in groups])
    return grouped.take(pa.array(np.argsort(order, kind="stable"), pa.int64()))
