"""The Starlette application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from tortoise.contrib.starlette import RegisterTortoise

from backend import counters, db, response_cache
from backend.access.authentication import (
    InsufficientScopeHTTP,
    SessionBackend,
    insufficient_scope_response,
    on_auth_error,
    space_caller,
)
from backend.agenda.fhir import create_appointment, update_appointment
from backend.agenda.http import appointment_ics, feed_ics
from backend.announcements import services as announcements
from backend.bootstrap import build_runtime, load_tasks
from backend.errors import UNAVAILABLE_MESSAGE
from backend.graphiql import URL_PREFIX as GRAPHIQL_ASSETS
from backend.graphiql import serve_asset as graphiql_asset
from backend.graphql_view import CarnetGraphQL
from backend.health import healthz, readyz
from backend.i18n import gettext
from backend.identity import notices
from backend.identity.psc_http import psc_callback, psc_login
from backend.identity.services import session_store
from backend.jobs.fallback import FallbackRunner, activate
from backend.kv import KV_UNAVAILABLE_ERRORS
from backend.limits import BodySizeLimit
from backend.live_sockets import LiveSockets
from backend.middleware import LanguageMiddleware, RequestIdMiddleware
from backend.oauth import bearer as oauth_bearer
from backend.oauth import http as oauth
from backend.profile import fhir_search
from backend.profile.http import import_bundle, patient_everything
from backend.records.fhir import create_document_reference
from backend.records.http import download_content
from backend.runtime import Runtime, tune_gc
from backend.schema import build_schema
from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)

NOTICES_DRAIN_SECONDS = 5.0


def _runtime(conn: HTTPConnection) -> Runtime:
    return conn.app.state.runtime


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    load_tasks()  # the jobs this process may enqueue (backend/jobs/)
    # Tortoise logs every SQL statement WITH its values at DEBUG: values are health data.
    # Set here too, since uvicorn workers do not run the CLI's logging set-up.
    logging.getLogger("tortoise.db_client").setLevel(logging.INFO)
    cache = response_cache.ResponseCache(settings.response_cache_bytes,
                                         settings.response_cache_ttl_seconds)
    graphql = CarnetGraphQL(
        build_schema(settings),
        _runtime,
        graphiql=settings.graphiql,
        allowed_origins=settings.allowed_origins,
        cache=cache,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        app.state.runtime = runtime
        app.state.response_cache = cache
        # The GraphQL view authenticates websockets' connection_init with the same function
        # the authentication middleware uses for every request: sessions, then apps' tokens.
        app.state.authenticate = oauth_bearer.resolve
        # ... and enters the space its connection_init names as a request's Carnet-Space does.
        app.state.in_space = space_caller
        db.use_master_keys(settings)  # they seal and open identity data (backend/crypto.py)
        sockets = app.state.live_sockets = LiveSockets()
        # Tables come from `carnet migrate`, never from here: several workers would race.
        async with RegisterTortoise(app, config=db.tortoise_config(settings)):
            await runtime.start()
            counters.install_signal_handler()
            if settings.gc_tuning:
                tune_gc()  # start-up is over: its objects are never scanned again
            # Background jobs (backend/jobs/): on PostgreSQL, `carnet worker` runs them (the
            # durable queue); on SQLite, this process does, in memory (jobs/fallback.py).
            jobs_task: asyncio.Task[None] | None = None
            if not settings.uses_postgres:
                runner = FallbackRunner(runtime, load_tasks())
                activate(runner)
                jobs_task = asyncio.create_task(runner.run(), name="carnet-jobs-in-process")
            # Closes this process's sockets of sessions revoked through any process.
            sockets_task = asyncio.create_task(
                sockets.run(runtime.broker,
                            oauth_bearer.socket_liveness(runtime, session_store(runtime).is_alive),
                            interval=settings.ws_session_check_seconds),
                name="carnet-session-revocations")
            # Forgets this process's cache of the latest announcements when any process
            # publishes one.
            announcements_task = asyncio.create_task(
                announcements.forget_on_publish(runtime.broker),
                name="carnet-announcements-cache")
            try:
                yield
            finally:
                for task in (announcements_task, sockets_task, jobs_task):
                    if task is None:
                        continue
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if jobs_task is not None:
                    activate(None)
                # Notices still being sent get a moment (they are lost after: see notices.py).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.drain(), NOTICES_DRAIN_SECONDS)
                await runtime.aclose()

    async def unavailable(request: HTTPConnection, exc: Exception) -> JSONResponse:
        # PostgreSQL or Redis is down or restarting: a clear, retryable answer, never a 500
        # with a traceback (GraphQL maps the same errors inside its own responses).
        path = request.url.path
        if path.startswith("/agenda/feed/"):  # the path holds a calendar feed's secret token
            path = "/agenda/feed/{token}.ics"
        log.warning("%s %s: backing service unavailable (%s)", request.method
                    if hasattr(request, "method") else "WS", path, type(exc).__name__)
        return JSONResponse({"error": "service_unavailable",
                             "message": gettext(UNAVAILABLE_MESSAGE)},
                            status_code=503, headers={"Retry-After": "2"})

    app = Starlette(
        exception_handlers={
            **{error: unavailable
               for error in (*KV_UNAVAILABLE_ERRORS, *db.DATABASE_UNAVAILABLE_ERRORS)
               if error is not OSError},
            # An app's token on a route not opened to it, or without the route's scope.
            InsufficientScopeHTTP: insufficient_scope_response,
        },
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            # Route + WebSocketRoute, not Mount: Mount answers POST with a redirect.
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/documents/{id}/content", download_content, methods=["GET"]),
            # iCalendar: one appointment (the patient's session) and the subscription feed
            # (its token is the credential): backend/agenda/http.py.
            Route("/agenda/feed/{token}.ics", feed_ics, methods=["GET"]),
            Route("/agenda/{id}.ics", appointment_ics, methods=["GET"]),
            Route("/fhir/r4/DocumentReference", create_document_reference, methods=["POST"]),
            # FHIR search and read for professional software (profile/fhir_search.py).
            Route("/fhir/r4/Patient", fhir_search.search_patient, methods=["GET"]),
            Route("/fhir/r4/DocumentReference", fhir_search.search_document_references,
                  methods=["GET"]),
            Route("/fhir/r4/DocumentReference/{id}", fhir_search.read_document_reference,
                  methods=["GET"]),
            Route("/fhir/r4/AllergyIntolerance", fhir_search.search_allergies, methods=["GET"]),
            Route("/fhir/r4/Immunization", fhir_search.search_immunizations, methods=["GET"]),
            Route("/fhir/r4/MedicationStatement", fhir_search.search_medications,
                  methods=["GET"]),
            Route("/fhir/r4/Observation", fhir_search.search_observations, methods=["GET"]),
            Route("/fhir/r4/Patient/{id}/$everything", patient_everything, methods=["GET"]),
            Route("/fhir/r4/Bundle", import_bundle, methods=["POST"]),
            # Appointments from professional software (agenda/fhir.py).
            Route("/fhir/r4/Appointment", create_appointment, methods=["POST"]),
            Route("/fhir/r4/Appointment/{id}", update_appointment, methods=["PUT"]),
            # OAuth 2 authorization server for referenced apps (backend/oauth/http.py).
            Route("/oauth/authorize", oauth.authorize, methods=["GET"]),
            Route("/oauth/token", oauth.token, methods=["POST"]),
            Route("/oauth/revoke", oauth.revoke, methods=["POST"]),
            Route("/oauth/introspect", oauth.introspect, methods=["POST"]),
            Route("/.well-known/oauth-authorization-server", oauth.metadata, methods=["GET"]),
            # Pro Santé Connect login (answers 404 unless PSC_ISSUER is set).
            Route("/auth/psc/login", psc_login, methods=["GET"], name="psc_login"),
            Route("/auth/psc/callback", psc_callback, methods=["GET"], name="psc_callback"),
            # GraphiQL's own scripts and stylesheets (no CDN), only when GraphiQL is on.
            *([Route(GRAPHIQL_ASSETS + "{path:path}", graphiql_asset, methods=["GET"])]
              if settings.graphiql else []),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            # The request's language (Accept-Language), for every message it answers.
            Middleware(LanguageMiddleware),
            # One authentication for every endpoint: request.user (access/authentication.py).
            Middleware(AuthenticationMiddleware, backend=SessionBackend(), on_error=on_auth_error),
            Middleware(BodySizeLimit, limit_for={
                # Room for the multipart envelope and base64's 4/3 growth (FHIR).
                "/graphql": settings.max_upload_bytes + 1024 * 1024,
                "/fhir/": settings.max_upload_bytes * 4 // 3 + 1024 * 1024,
                "/oauth/": oauth.MAX_FORM_BYTES,  # small forms only
            }),
        ],
        lifespan=lifespan,
    )
    return app


def app_factory() -> Any:
    """Entry point for `uvicorn --factory backend.app:app_factory`."""
    app = create_app()
    # bench/screens.py counts requests (backend/counters.py); off otherwise.
    return counters.CountRequests(app) if counters.enabled() else app

