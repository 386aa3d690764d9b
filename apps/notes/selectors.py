"""Reads of the notes app. Every query is scoped to one owner and hides tombstones; another
user's note is "not found", never "forbidden"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVectorField
from django.db import connections, router
from django.db.models import F, FloatField, Func, IntegerField, OuterRef, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.expressions import Col, Expression
from django.db.models.functions import Cast, Left, Replace, Substr

from apps.common.errors import NotFound
from apps.common.pagination import IF_SMALL, ROW_BYTES, text_budget
from apps.library import selectors as library_selectors

from .models import Note, NoteRevision, NoteStorage

# Must match the configuration of the generated column (migration 0002_search_vector).
SEARCH_CONFIG = "english"
# The substring fallback matches at most this many words (all of them must appear).
FALLBACK_MAX_TERMS = 8
REVISION_PREVIEW_CHARS = 200


def note_list(*, owner_id: uuid.UUID) -> QuerySet[Note]:
    """The owner's live notes, archived ones included (the API's filters decide), with their
    file links (one more query per page, however long)."""
    return Note.objects.filter(owner_id=owner_id, deleted_at__isnull=True).prefetch_related(
        Prefetch("linked_files", queryset=library_selectors.file_links())
    )


def note_get(*, owner_id: uuid.UUID, note_id: uuid.UUID) -> Note:
    note = note_list(owner_id=owner_id).filter(id=note_id).first()
    if note is None:
        raise NotFound("No such note.")
    return note


# --- the lean read path: rows, not model instances ----------------------------------------------


def note_rows(
    queryset: QuerySet[Note], *, columns: Sequence[str], extra: Sequence[str] = (), list_page: bool = False
) -> QuerySet[Any]:
    """`queryset` as dicts of `columns` (the output's, see api/serializers.NOTE_ROW) plus `extra`
    (e.g. the ordering's fields), with `file_ids` (the live linked files, sorted) from a
    correlated subquery on PostgreSQL: a page or an object in one query, no model instances.
    Elsewhere (SQLite) `note_files` adds the links with one more query. For a `list_page`,
    bodies are bounded by the page's byte budget (apps/common/pagination.text_budget)."""
    columns = list(dict.fromkeys([*columns, *extra]))
    queryset = queryset.prefetch_related(None)
    if list_page:
        queryset = text_budget(queryset, counted=("title", "body"), large="body")
        columns = [name for name in columns if name != "body"] + [ROW_BYTES, "body" + IF_SMALL]
    if connections[queryset.db].vendor == "postgresql":
        return queryset.annotate(file_ids=_live_links()).values(*columns, "file_ids")
    return queryset.values(*columns)


def _live_links() -> ArraySubquery:
    """A note's live linked files, sorted, as one array column (PostgreSQL)."""
    links = (
        Note.linked_files.through.objects.filter(note_id=OuterRef("id"), file__deleted_at__isnull=True)
        .order_by("file_id")
        .values("file_id")
    )
    return ArraySubquery(links)


def notes_for_update(*, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Note]:
    """The notes with these ids whoever owns them (tombstones included), row-locked in id order
    until the transaction ends; on PostgreSQL each carries its live links as `file_ids` (see
    note_files), so a batch of edits needs no second query for them."""
    using = router.db_for_write(Note)
    queryset = Note.objects.using(using).select_for_update(of=("self",)).filter(id__in=ids).order_by("id")
    if connections[using].vendor == "postgresql":
        queryset = queryset.annotate(file_ids=_live_links())
    return {note.id: note for note in queryset}


def note_files(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give rows read without the subquery (SQLite) their `file_ids`, in one query."""
    missing = [row for row in rows if "file_ids" not in row]
    if missing:
        links: dict[uuid.UUID, list[uuid.UUID]] = {}
        for note_id, file_id in (
            Note.linked_files.through.objects.filter(
                note_id__in=[row["id"] for row in missing], file__deleted_at__isnull=True
            )
            .order_by("file_id")
            .values_list("note_id", "file_id")
        ):
            links.setdefault(note_id, []).append(file_id)
        for row in missing:
            row["file_ids"] = links.get(row["id"], [])
    return rows


def note_row_get(*, owner_id: uuid.UUID, note_id: uuid.UUID, columns: Sequence[str]) -> dict[str, Any]:
    """One live note of the owner as a row (see note_rows); 404 otherwise."""
    row = note_rows(note_list(owner_id=owner_id).filter(id=note_id), columns=columns).first()
    if row is None:
        raise NotFound("No such note.")
    return note_files([row])[0]


class SearchVectorColumn(Expression):
    """The generated `search_vector` column, which is not a model field (see models.py). It
    resolves to a column of the query's own table alias, so it also works in subqueries."""

    output_field = SearchVectorField()
    _target = SearchVectorField()
    _target.set_attributes_from_name("search_vector")
    _target.model = Note

    def resolve_expression(  # type: ignore[override]  # becomes a Col of the query's alias
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: set[str] | None = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> Col:
        return Col(query.get_initial_alias(), self._target)


def search_backend(queryset: QuerySet[Note]) -> str:
    return "postgresql" if connections[queryset.db].vendor == "postgresql" else "fallback"


def note_search(*, queryset: QuerySet[Note], query: str) -> QuerySet[Note]:
    """Notes matching `query`, annotated with `rank` (higher is better).

    PostgreSQL: full-text search with stemming over the title (weight A) and body (weight B),
    parsed like a web search box (`"exact phrase"`, `or`, `-excluded`; never a syntax error),
    ranked with ts_rank. The rank is cast to double precision so it survives a round trip
    through a pagination cursor exactly. Elsewhere (SQLite): every word must appear in the
    title or body, case-insensitively; all matches rank equally."""
    terms = query.strip()
    if search_backend(queryset) == "postgresql":
        search_query = SearchQuery(terms, config=SEARCH_CONFIG, search_type="websearch")
        return (
            queryset.alias(search_vector=SearchVectorColumn())
            .filter(search_vector=search_query)
            .annotate(rank=Cast(SearchRank(F("search_vector"), search_query), FloatField()))
        )
    condition = Q()
    for word in terms.split()[:FALLBACK_MAX_TERMS]:
        condition &= Q(title__icontains=word) | Q(body__icontains=word)
    return queryset.filter(condition).annotate(rank=Value(0.0, output_field=FloatField()))


# Highlights: ts_headline wraps what the query matched in these two private-use characters (taken
# out of the text first, so a note cannot fake a mark), and the answer splits on them.
_START, _STOP = "\ue000", "\ue001"
_MARKED = re.compile(f"{_START}(.*?){_STOP}", re.DOTALL)
HEADLINE_BODY_CHARS = 100_000  # the part of a body the search index covers
FALLBACK_EXCERPT_CHARS = 200


def note_highlights(
    *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID], query: str
) -> dict[uuid.UUID, dict[str, list[str]]]:
    """What `query` matched in each of these notes, for a search results page (one query):
    `{"title": [...], "body": [...]}`, each a list of text segments where the odd ones (1, 3,
    ...) are matches. The title is whole; the body is an excerpt around the matches (up to two
    fragments joined by " … "). PostgreSQL marks what its stemmed search matched (ts_headline:
    "run" marks "running"); the SQLite fallback marks the words as typed, like its search."""
    terms = query.strip()
    notes = note_list(owner_id=owner_id).filter(id__in=ids).prefetch_related(None)
    if search_backend(notes) == "postgresql":
        search_query = SearchQuery(terms, config=SEARCH_CONFIG, search_type="websearch")
        rows = notes.annotate(
            title_marked=SearchHeadline(
                _unmarked(F("title")),
                search_query,
                config=SEARCH_CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                highlight_all=True,
            ),
            body_marked=SearchHeadline(
                _unmarked(Left("body", HEADLINE_BODY_CHARS)),
                search_query,
                config=SEARCH_CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                max_words=30,
                min_words=12,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        ).values_list("id", "title_marked", "body_marked")
        return {note_id: {"title": _segments(t), "body": _segments(b)} for note_id, t, b in rows}
    words = [re.escape(word) for word in terms.split()[:FALLBACK_MAX_TERMS]]
    pattern = re.compile(f"({'|'.join(words)})", re.IGNORECASE) if words else None
    return {
        note_id: {"title": _split(pattern, title), "body": _split(pattern, _excerpt(pattern, body))}
        for note_id, title, body in notes.values_list("id", "title", "body")
    }


def _unmarked(expression: Any) -> Replace:
    return Replace(Replace(expression, Value(_START), Value("")), Value(_STOP), Value(""))


def _segments(marked: str) -> list[str]:
    return _MARKED.split(marked)  # the captured matches land at the odd indices


def _split(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    return pattern.split(text) if pattern else [text]


def _excerpt(pattern: re.Pattern[str] | None, body: str) -> str:
    found = pattern.search(body) if pattern else None
    start = max(0, found.start() - FALLBACK_EXCERPT_CHARS // 2) if found else 0
    return body[start : start + FALLBACK_EXCERPT_CHARS]


def revision_list(*, owner_id: uuid.UUID, note_id: uuid.UUID) -> QuerySet[NoteRevision]:
    """A live note's revisions without their bodies (a preview instead); 404 for no such note."""
    if not note_list(owner_id=owner_id).filter(id=note_id).exists():
        raise NotFound("No such note.")
    return (
        NoteRevision.objects.filter(note_id=note_id)
        .defer("body")
        .annotate(body_preview=Substr("body", 1, REVISION_PREVIEW_CHARS))
    )


def revision_get(*, owner_id: uuid.UUID, note_id: uuid.UUID, number: int) -> NoteRevision:
    revision = NoteRevision.objects.filter(
        note_id=note_id, note__owner_id=owner_id, note__deleted_at__isnull=True, number=number
    ).first()
    if revision is None:
        raise NotFound("No such revision.")
    return revision


# --- storage ------------------------------------------------------------------------------------


class _Bytes(Func):
    """UTF-8 bytes of a text column (SQLite: the length of its blob)."""

    template = "length(CAST(%(expressions)s AS BLOB))"
    output_field = IntegerField()


def note_storage_usage(*, user_id: uuid.UUID) -> int:
    """The notes' part of the storage quota (apps/common/quota.py): bytes of title and body of
    live notes and of their revisions. PostgreSQL keeps it in NoteStorage (triggers, one row
    read); elsewhere the rows are summed. Read on the primary: a quota check must not miss a
    write of a moment ago."""
    using = router.db_for_write(NoteStorage)
    if connections[using].vendor == "postgresql":
        stored = (
            NoteStorage.objects.using(using).filter(owner_id=user_id).values_list("bytes", flat=True).first()
        )
        return int(stored or 0)
    live = Note.objects.using(using).filter(owner_id=user_id, deleted_at__isnull=True)
    notes = live.aggregate(total=Sum(_Bytes("title") + _Bytes("body")))["total"]
    revisions = (
        NoteRevision.objects.using(using)
        .filter(note__in=live)
        .aggregate(total=Sum(_Bytes("title") + _Bytes("body")))["total"]
    )
    return int(notes or 0) + int(revisions or 0)
