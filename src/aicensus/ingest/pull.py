"""Pull a search engine's results straight into the store, with the user's own key.

`pull(engine, query, key=…, db=…)` pages through a Censys Platform (`censys-platform` SDK,
`POST /v3/global/search/query`) or Shodan (`shodan` SDK, `GET /shodan/host/search`) search:

1. each page is fetched through the official SDK, and its raw JSON, as the API sent it, is
   saved as a file under `save_pages` (`<engine>-<query hash>/page-0001.json`);
2. the saved file is ingested with `ingest_file` — the same reader, time grouping, ledger,
   de-duplication and batching as `aicensus ingest censys|shodan FILE`, which reads these files
   again;
3. the page is then entered in the ingest ledger under a key of (engine, query, page number),
   so a pull that is interrupted (a failed request, Ctrl-C, no credits left) resumes where it
   stopped: pages already in the ledger are neither fetched nor counted again. Censys pages
   follow a cursor (`next_page_token`); on resume the cursor is read back from the last saved
   page. A page ingested but not yet entered in the ledger (killed in between) is fetched
   again, and its observations are skipped as duplicates.

Credits and rate limits: Shodan's `api.info()` (query credits left) is read before and after,
and the SDK's own limiter (one request a second by default) spaces the requests; a Censys
response's rate-limit and credit headers are kept and shown, and a 429 is retried by the SDK
with backoff. Both SDKs are an optional extra: `pip install 'aicensus[pull]'`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aicensus.errors import PullError
from aicensus.ingest.files import IngestSummary, ingest_file
from aicensus.records import ServiceObservation
from aicensus.store import Store
from aicensus.store import longitudinal as lon

ENGINES = ("censys", "shodan")
KEY_ENV = {"censys": ("CENSYS_PLATFORM_TOKEN", "CENSYS_API_KEY"), "shodan": ("SHODAN_API_KEY",)}
SHODAN_PAGE = 100  # results per Shodan search page (fixed by the API)
LAST = " (last)"  # marks the ledger row of a pull's last page: that pull is finished


@dataclass
class Page:
    number: int
    body: dict[str, Any]
    next_cursor: str | None  # Censys: the token of the next page; Shodan: None
    last: bool
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PullSummary:
    engine: str
    query: str
    pages_dir: str
    run: int = 1  # the how-manieth pull of this query into this store
    pages: int = 0  # fetched and ingested in this run
    resumed_pages: int = 0  # already in the ledger: neither fetched nor counted again
    records: int = 0
    observations: int = 0
    duplicates: int = 0
    bad: int = 0
    models: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    credits: dict[str, object] = field(default_factory=dict)  # what the engine says is left
    page_summaries: list[IngestSummary] = field(default_factory=list)


def find_key(engine: str, key_file: str | Path | None = None) -> str:
    """The user's API key: --key-file, else the engine's environment variable."""
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PullError(f"cannot read key file {key_file}: {exc.strerror}") from None
        if key:
            return key
        raise PullError(f"key file {key_file} is empty")
    for name in KEY_ENV[engine]:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    names = " or ".join(KEY_ENV[engine])
    raise PullError(f"no {engine} API key: set {names}, or pass --key-file FILE")


def default_pages_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aicensus" / "pulls"


def _query_dir(engine: str, query: str, root: Path) -> Path:
    digest = hashlib.sha256(f"{engine}\n{query}".encode()).hexdigest()[:16]
    return root / f"{engine}-{digest}"


def page_key(engine: str, query: str, run: int, number: int) -> str:
    """The ledger key of one page of one pull (not a file hash: the page's identity). A query
    pulled again after an earlier pull of it finished is a new run (the data has moved on)."""
    text = f"{engine}\n{query}\n{run}\n{number}"
    return "pull:" + hashlib.sha256(text.encode()).hexdigest()


# --- the engines, through their official SDKs -------------------------------------------------


class _Shodan:
    def __init__(self, key: str, base_url: str | None, per_second: float) -> None:
        try:
            import shodan
        except ImportError:
            raise PullError(
                "the shodan SDK is not installed: pip install 'aicensus[pull]'"
            ) from None
        self._errors: tuple[type[BaseException], ...] = (shodan.APIError,)
        self.api = shodan.Shodan(key)
        if base_url:
            self.api.base_url = base_url.rstrip("/")
        self.api.api_rate_limit = per_second

    def credits(self) -> dict[str, object]:
        info = self._call(self.api.info)
        keep = ("query_credits", "scan_credits", "plan")
        return {k: info[k] for k in keep if k in info}

    def page(self, query: str, number: int, cursor: str | None, size: int | None) -> Page:
        body = self._call(lambda: self.api.search(query, page=number, minify=False))
        matches = body.get("matches") or []
        total = int(body.get("total") or 0)
        last = not matches or number * SHODAN_PAGE >= total
        return Page(number=number, body=body, next_cursor=None, last=last)

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except self._errors as exc:
            raise PullError(f"shodan API: {exc}") from None


_RATE_HEADERS = ("ratelimit", "rate-limit", "credit", "retry-after")


class _Censys:
    def __init__(self, key: str, base_url: str | None, per_second: float) -> None:
        try:
            import httpx
            from censys_platform import SDK
            from censys_platform.utils import BackoffStrategy, RetryConfig
        except ImportError:
            raise PullError(
                "the censys-platform SDK is not installed: pip install 'aicensus[pull]'"
            ) from None
        self._raw: list[httpx.Response] = []
        # The raw response is kept as the API sent it (the SDK's models drop unknown fields).
        client = httpx.Client(follow_redirects=True, event_hooks={"response": [self._keep]})
        retry = RetryConfig("backoff", BackoffStrategy(1000, 60_000, 2.0, 300_000), True)
        self.sdk = SDK(
            personal_access_token=key,
            organization_id=os.environ.get("CENSYS_ORGANIZATION_ID") or None,
            server_url=base_url.rstrip("/") if base_url else None,
            client=client,
            retry_config=retry,
        )
        self.headers: dict[str, str] = {}

    def _keep(self, response: Any) -> None:
        response.read()
        self._raw.append(response)

    def credits(self) -> dict[str, object]:
        return {k: v for k, v in self.headers.items()}

    def page(self, query: str, number: int, cursor: str | None, size: int | None) -> Page:
        body_in: dict[str, object] = {"query": query}
        if size:
            body_in["page_size"] = size
        if cursor:
            body_in["page_token"] = cursor
        self._raw.clear()
        try:
            self.sdk.global_data.search(search_query_input_body=body_in)  # type: ignore[arg-type]
        except Exception as exc:  # the SDK's errors share no public base across versions
            raise PullError(f"censys API: {_one_line(exc)}") from None
        raw = self._raw[-1]
        body = raw.json()
        self.headers = {
            k: v for k, v in raw.headers.items() if any(h in k.lower() for h in _RATE_HEADERS)
        }
        result = body.get("result") if isinstance(body, dict) else None
        result = result if isinstance(result, dict) else {}
        token = result.get("next_page_token") or None
        hits = result.get("hits") or []
        return Page(number, body, token, last=not token or not hits, headers=dict(self.headers))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _client(engine: str, key: str, base_url: str | None, per_second: float) -> Any:
    if engine == "shodan":
        return _Shodan(key, base_url, per_second)
    if engine == "censys":
        return _Censys(key, base_url, per_second)
    raise PullError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")


# --- the pull ---------------------------------------------------------------------------------


def _pages_of(store: Store, engine: str, query: str, run: int) -> Iterator[lon.SourceFile]:
    number = 1
    while (entry := lon.source_seen(store, page_key(engine, query, run, number))) is not None:
        yield entry
        number += 1


def _open_run(db: Path, engine: str, query: str) -> tuple[int, list[lon.SourceFile]]:
    """The run to go on with (the first not finished) and its pages already in the ledger."""
    with Store.open(db) as store:
        run = 1
        while True:
            done = list(_pages_of(store, engine, query, run))
            if not done or not done[-1].format.endswith(LAST):
                return run, done
            run += 1


def _cursor_of(path: str) -> str | None:
    """The next-page cursor a saved Censys page names (None when gone or unreadable)."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    result = body.get("result") if isinstance(body, dict) else None
    return (result or {}).get("next_page_token") or None


def pull(
    engine: str,
    query: str,
    *,
    key: str,
    db: str | Path,
    save_pages: str | Path | None = None,
    max_pages: int | None = None,
    page_size: int | None = None,
    base_url: str | None = None,
    per_second: float = 1.0,
    on_observation: Callable[[ServiceObservation], None] | None = None,
    on_page: Callable[[PullSummary, Page], None] | None = None,
) -> PullSummary:
    """Page through engine's results for query into db; resumes an interrupted pull."""
    if engine not in ENGINES:
        raise PullError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    client = _client(engine, key, base_url, per_second)
    run, done = _open_run(Path(db), engine, query)
    root = Path(save_pages) if save_pages else default_pages_dir()
    folder = _query_dir(engine, query, root) / f"run-{run:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    summary = PullSummary(engine=engine, query=query, pages_dir=str(folder), run=run)
    if engine == "shodan":
        summary.credits = client.credits()
    summary.resumed_pages = len(done)
    number, cursor = len(done) + 1, None
    if done and engine == "censys":
        cursor = _cursor_of(done[-1].path)
        if cursor is None:  # the saved page is gone: walk the cursors again, counting nothing
            return _rewalk(client, summary, db, query, done, max_pages, page_size,
                           on_observation, on_page)  # fmt: skip
    while max_pages is None or summary.pages < max_pages:
        _check_credits(summary, number)
        page = client.page(query, number, cursor, page_size)
        _take_page(summary, page, db, folder, on_observation)
        if on_page is not None:
            on_page(summary, page)
        if page.last:
            break
        number, cursor = number + 1, page.next_cursor
    summary.credits = client.credits()
    return summary


def _check_credits(summary: PullSummary, number: int) -> None:
    """Stop before a page that the credits Shodan reported cannot pay for (each page is
    counted as one query credit, the most a page costs); the pull resumes at that page."""
    left = summary.credits.get("query_credits")
    if isinstance(left, int) and left - summary.pages <= 0:
        raise PullError(
            f"no {summary.engine} query credits left ({left} at the start, {summary.pages} "
            f"pages fetched); the pull resumes at page {number} when there are"
        )


def _rewalk(
    client: Any,
    summary: PullSummary,
    db: str | Path,
    query: str,
    done: list[lon.SourceFile],
    max_pages: int | None,
    page_size: int | None,
    on_observation: Callable[[ServiceObservation], None] | None,
    on_page: Callable[[PullSummary, Page], None] | None,
) -> PullSummary:
    """Censys, resumed without the last saved page: fetch the pages in the ledger again only
    for their cursors (they are not ingested again), then go on."""
    folder = Path(summary.pages_dir)
    cursor: str | None = None
    number = 1
    while True:
        page = client.page(query, number, cursor, page_size)
        if number > len(done):
            _take_page(summary, page, db, folder, on_observation)
            if on_page is not None:
                on_page(summary, page)
        if page.last or (max_pages is not None and summary.pages >= max_pages):
            break
        number, cursor = number + 1, page.next_cursor
    summary.credits = client.credits()
    return summary


def _take_page(
    summary: PullSummary,
    page: Page,
    db: str | Path,
    folder: Path,
    on_observation: Callable[[ServiceObservation], None] | None,
) -> None:
    """Save one page, ingest it as a file, then enter it in the ledger."""
    path = folder / f"page-{page.number:04d}.json"
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(page.body, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    result = ingest_file(path, summary.engine, db=db, on_observation=on_observation)
    summary.page_summaries.append(result)
    summary.pages += 1
    if result.already_ingested is None:
        summary.records += result.records
        summary.observations += result.observations
        summary.duplicates += result.duplicates
        summary.bad += len(result.bad_records)
        summary.models += result.models
        for why, n in result.skipped.items():
            summary.skipped[why] = summary.skipped.get(why, 0) + n
    with Store.open(db) as store:
        lon.record_source(
            store,
            lon.SourceFile(
                sha256=page_key(summary.engine, summary.query, summary.run, page.number),
                format=f"{summary.engine} pull" + (LAST if page.last else ""),
                path=str(path),
                size_bytes=path.stat().st_size,
                scan_id=result.scan_id,
                ingested_at=datetime.now(UTC).replace(tzinfo=None),
                records=0,  # the page's file has its own ledger row with the counts
                observations=0,
                duplicates=0,
                bad=0,
            ),
        )
