"""The dashboard's web app (Starlette; Jinja2 templates with autoescape). Library entry point:
``create_app(db_path, token=None)``; `aicensus serve` (cli/serve.py) runs it with uvicorn.

Safe by default: GET (and HEAD) routes only; the store opened read-only for each request; a
Content-Security-Policy that allows no script at all, no inline style and nothing from another
origin; every value from the store rendered as text (autoescape, with control and bidi
characters shown as escapes); a Host check against DNS rebinding on a loopback bind, and a
token required on any other bind.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from aicensus.assess import Finding, assess, sort_key
from aicensus.attribute.alternatives import top_alternatives
from aicensus.attribute.card_format import card_text
from aicensus.attribute.diligence import model_card
from aicensus.errors import StoreError, StoreLockedError
from aicensus.report.charts import bar_chart, column_chart, visible, world_map
from aicensus.serve import views
from aicensus.serve.reader import Reader, Snapshot
from aicensus.store import dashboard as board
from aicensus.store import longitudinal as lon

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_COOKIE = "aicensus_token"
_SEVERITY_COLOURS = {
    "critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825",
    "info": "#607d8b",
}  # fmt: skip
_LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _finalize(value: object) -> object:
    """Every {{ value }}: control and bidi characters as visible escapes (markup we built, such
    as the charts, passes as it is; autoescape then escapes the rest)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return "" if value is None else value
    return visible(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aicensus.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = lambda v: "–" if v is None else f"{v:,}"
    env.filters["when"] = _when
    env.globals["severity_colours"] = _SEVERITY_COLOURS
    return env


def _when(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class _Headers(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for k, v in _HEADERS.items():
            response.headers.setdefault(k, v)
        return response


class _Token(BaseHTTPMiddleware):
    """On a non-loopback bind: the token, once as ?token=..., then as an HttpOnly cookie."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    def _ok(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.query_params.get("token")
        if self._ok(given):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            # One leading slash: "//host/..." would send the browser to another site.
            target = "/" + request.url.path.lstrip("/") + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        if not self._ok(request.cookies.get(_COOKIE)):
            return PlainTextResponse("token required: open the URL aicensus serve printed", 401)
        return await call_next(request)


class Dashboard:
    """The pages, over one store."""

    def __init__(self, db: str, *, background: bool = True) -> None:
        self.reader = Reader(db, background=background)
        self.env = _environment()
        self._study: tuple[tuple[int, ...], dict[str, Any] | str] | None = None
        self._study_running: tuple[int, ...] | None = None
        self._study_lock = threading.Lock()

    # ------------------------------------------------------------ plumbing

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        context.setdefault("stale", None)
        html = self.env.get_template(template).render(
            request=request, db=self.reader.db, path=request.url.path, **context
        )
        return HTMLResponse(html, status_code=status)

    def busy(self, request: Request, detail: str) -> Response:
        response = self.render(request, "busy.html", 503, detail=detail)
        response.headers["Retry-After"] = "5"
        return response

    def snapshot(self, request: Request) -> tuple[Snapshot, str | None]:
        snap, stale = self.reader.snapshot()
        note = None
        if stale:
            note = (
                f"The store is busy (a scan or ingest is writing it): showing its state as read "
                f"at {_when(snap.read_at)} UTC. Reload for newer data once it is done."
            )
        return snap, note

    def guard(
        self, page: Callable[[Request], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            # In a worker thread (a slow read must not stall the server's event loop), with
            # the background stepping aside meanwhile (reader.Pages).
            with self.reader.pages.answering():
                try:
                    return await run_in_threadpool(page, request)
                except StoreLockedError as exc:
                    return self.busy(request, str(exc))
                except StoreError as exc:
                    return self.render(
                        request, "message.html", 500, title="Store error", detail=str(exc)
                    )

        return endpoint

    # ------------------------------------------------------------ pages

    def overview(self, request: Request) -> Response:
        snap, stale = self.snapshot(request)
        context = snap.derived("overview", lambda: self._overview(snap))
        return self.render(request, "overview.html", snap=snap, stale=stale, **context)

    def _overview(self, snap: Snapshot) -> dict[str, Any]:
        products = Counter(dict(snap.board.counts("product")))
        developers = Counter(dict(snap.board.counts("developer")))
        dev_countries = Counter(dict(snap.board.counts("dev_country")))
        countries = snap.host_countries()
        severities = snap.severity_counts()
        charts = {
            "map": world_map("hosts by country", countries),
            "products": bar_chart("services by product", _top(products)),
            "developers": bar_chart("services by model developer", _top(developers)),
            "dev_countries": bar_chart("services by developer country", _top(dev_countries)),
            "severity": bar_chart(
                "findings by severity",
                [(s, n, _SEVERITY_COLOURS[s]) for s, n in severities.items()],
            ),
            "new_hosts": column_chart("new hosts per day", snap.new_hosts),
        }
        return dict(
            hosts=snap.board.hosts(), countries=countries, products=products,
            developers=developers, dev_countries=dev_countries, severities=severities,
            charts={k: Markup(v) for k, v in charts.items()},
        )  # fmt: skip

    def services(self, request: Request) -> Response:
        snap, stale = self.snapshot(request)
        params = dict(request.query_params)
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        shown, total, page, pages = views.select(snap, params, page)
        keep = {k: v for k, v in params.items() if k in views.FILTERS or k in ("q", "sort")}
        return self.render(
            request, "services.html", snap=snap, stale=stale, rows=shown, total=total,
            all=snap.n_services, page=page, pages=pages, filters=views.FILTERS,
            options=snap.derived("options", lambda: views.options(snap)), chosen=keep,
            sorts=views.SORTS, query=urlencode(keep),
            prev_q=urlencode({**keep, "page": page - 1}),
            next_q=urlencode({**keep, "page": page + 1}),
        )  # fmt: skip

    def export(self, request: Request, kind: str) -> Response:
        snap, _ = self.snapshot(request)
        params = dict(request.query_params)
        name = f"aicensus-services.{kind}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        media = "text/csv" if kind == "csv" else "application/json"
        body = views.export(snap, params, kind)
        return StreamingResponse(self._sending(body), media_type=media, headers=disposition)

    def _sending(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The chunks, with the background stepping aside until the last is sent (or the
        download stops: the generator is closed then)."""
        with self.reader.pages.answering():
            yield from chunks

    def service(self, request: Request) -> Response:
        ip = request.query_params.get("ip", "")
        try:
            port = int(request.query_params.get("port", ""))
        except ValueError:
            return self._missing(request, "Service", "no such service: give ?ip=...&port=...")
        snap, stale = self.snapshot(request)

        def load(store: Any) -> tuple[list[board.TimelinePoint], list[Any]]:
            timeline = board.service_timeline(store, ip, port)
            ids = [p.obs_id for p in timeline if p.status == "identified"][-1:]
            return timeline, board.observations_by_id(store, ids)

        timeline, latest = self.reader.read(load)
        if not timeline:
            return self._missing(request, "Service", f"no observation of {ip}:{port} is stored")
        obs = latest[0] if latest else None
        findings: list[Finding] = sorted(assess(obs), key=sort_key) if obs else []
        per_day = Counter(p.observed_at.date() for p in timeline if p.observed_at)
        changes = [
            p for i, p in enumerate(timeline)
            if i == 0 or _state(p) != _state(timeline[i - 1]) or i == len(timeline) - 1
        ]  # fmt: skip
        geo = snap.geo.get(ip)
        return self.render(
            request, "service.html", stale=stale, ip=ip, port=port, obs=obs, geo=geo,
            timeline=timeline, changes=changes[-200:], findings=findings,
            chart=Markup(column_chart("observations per day", sorted(per_day.items()))),
        )  # fmt: skip

    def models(self, request: Request) -> Response:
        snap, stale = self.snapshot(request)
        q = request.query_params.get("q", "").strip().casefold()
        found = [
            m for m in snap.models
            if not q or q in m.name.casefold() or q in (m.developer or "").casefold()
        ]  # fmt: skip
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 1
        pages = max(1, -(-len(found) // 100))
        page = min(max(page, 1), pages)
        countries = Counter(m.country or "unknown" for m in snap.models)
        return self.render(
            request, "models.html", stale=stale, models=found[(page - 1) * 100 : page * 100],
            total=len(found), page=page, pages=pages, q=request.query_params.get("q", ""),
            chart=Markup(bar_chart("models by developer country", _top(countries))),
        )  # fmt: skip

    def model(self, request: Request) -> Response:
        name = request.query_params.get("name", "")
        if not name:
            return self._missing(request, "Model", "no model named: give ?name=...")
        _, stale = self.snapshot(request)
        served = self.reader.read(lambda store: board.model_served_at(store, name))
        card = model_card(name)
        exclude = [card.country] if card.country else []
        alternatives = top_alternatives(name, exclude_countries=exclude, n=5) if exclude else []
        return self.render(
            request, "model.html", stale=stale, name=name, card=card, card_text=card_text(card),
            served=served, alternatives=alternatives, exclude=exclude,
        )  # fmt: skip

    def study(self, request: Request) -> Response:
        """The study report's body. Computing it takes seconds on a big store, so it runs in
        a thread (once per change of the store) while this page says so and reloads."""
        from aicensus.report.study_html import study_body

        snap, stale = self.snapshot(request)
        with self._study_lock:
            done = self._study if self._study and self._study[0] == snap.fingerprint else None
            start = done is None and self._study_running != snap.fingerprint
            if start:
                self._study_running = snap.fingerprint
        if start:
            if self.reader.background:
                threading.Thread(target=self._compute_study, args=(snap.fingerprint,),
                                 daemon=True).start()  # fmt: skip
            else:
                self._compute_study(snap.fingerprint)
            done = self._study if self._study and self._study[0] == snap.fingerprint else None
        if done is None:
            return self.render(request, "study.html", stale=stale, body=None, computing=True)
        outcome = done[1]
        if isinstance(outcome, str):
            return self.render(request, "study.html", stale=stale, body=None, error=outcome)
        return self.render(request, "study.html", stale=stale, body=Markup(study_body(outcome)))

    def _compute_study(self, fingerprint: tuple[int, ...]) -> None:
        from aicensus.report.study import compute_study

        outcome: dict[str, Any] | str
        try:
            outcome = compute_study(self.reader.db)
        except StoreLockedError:  # retried on the next visit
            with self._study_lock:
                self._study_running = None
            return
        except StoreError as exc:
            outcome = str(exc)
        except Exception as exc:  # the page must say so, not compute forever
            outcome = f"the study failed: {type(exc).__name__}: {' '.join(str(exc).split())}"
        with self._study_lock:
            self._study = (fingerprint, outcome)
            self._study_running = None

    def scans(self, request: Request) -> Response:
        _, stale = self.snapshot(request)
        scans, sources = self.reader.read(lambda store: (store.scans(), lon.sources(store)))
        return self.render(
            request, "scans.html", stale=stale, scans=list(reversed(scans)),
            sources=list(reversed(sources)),
        )  # fmt: skip

    def _missing(self, request: Request, title: str, detail: str) -> Response:
        return self.render(request, "message.html", 404, title=title, detail=detail)


def _state(p: board.TimelinePoint) -> tuple[object, ...]:
    return (p.status, p.product, p.version, p.auth, p.models)


def _top(counts: Counter[str], n: int = 10) -> list[tuple[object, float, str | None]]:
    return [(k, v, None) for k, v in counts.most_common(n)]


def create_app(
    db_path: str, *, token: str | None = None, host: str = "127.0.0.1", background: bool = True
) -> Starlette:
    """The dashboard over the store at db_path. A loopback host accepts only loopback Host
    headers (DNS rebinding); any other host needs a token. background=False computes host
    geography and findings before the first page answers (tests), instead of after."""
    if not is_loopback(host) and not token:
        raise ValueError(f"binding {host} (not loopback) needs a token")
    d = Dashboard(str(db_path), background=background)
    routes = [
        Route("/", d.guard(d.overview)),
        Route("/services", d.guard(d.services)),
        Route("/services.csv", d.guard(lambda r: d.export(r, "csv"))),
        Route("/services.json", d.guard(lambda r: d.export(r, "json"))),
        Route("/service", d.guard(d.service)),
        Route("/models", d.guard(d.models)),
        Route("/model", d.guard(d.model)),
        Route("/study", d.guard(d.study)),
        Route("/scans", d.guard(d.scans)),
        Mount("/static", StaticFiles(packages=[("aicensus.serve", "static")]), name="static"),
    ]
    middleware = [Middleware(_Headers)]
    allowed = [*_LOOPBACK_NAMES, host, f"[{host}]"] if is_loopback(host) else ["*"]
    middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed))
    if token:
        middleware.append(Middleware(_Token, token=token))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.dashboard = d
    return app
