"""A service process: one ASGI app serving its GraphQL subgraph, health and metrics, with its
Kafka consumers and outbox relay running beside it, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker, KafkaRouter
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from wastex_shared.graphql.body_limit import MAX_BODY_BYTES, BodyLimit
from wastex_shared.log_repeats import RepeatFilter, hold_back_kafka_client_repeats
from wastex_shared.messaging.admin import ensure_topics, wait_for_broker
from wastex_shared.messaging.consumer import EventConsumer
from wastex_shared.messaging.live import KafkaLiveFeed, LiveHub
from wastex_shared.messaging.relay import OutboxRelay, make_producer
from wastex_shared.settings import ServiceSettings, SettingsError, load_settings
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade
from wastex_shared.storage.presence import running_on
from wastex_shared.storage.tables import MessagingTables

log = logging.getLogger(__name__)

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Runtime:
    """A service's moving parts; its `main.py` (the bootstrap) creates it and wires the rest."""

    settings: ServiceSettings
    uow: UnitOfWorkFactory
    migrations: Path
    broker: KafkaBroker
    graphql_app: Any = None
    consumers: list[EventConsumer] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    relay: OutboxRelay | None = None
    #: A service's own lines for `/metrics` (Prometheus text, labelled), asked per scrape
    #: (awaited: some are read from the service's database).
    metrics: list[Callable[[], Awaitable[Iterable[str]]]] = field(default_factory=list)
    #: The hubs its subscriptions read (`live_feed`), counted on `/metrics`.
    hubs: list[LiveHub] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ready: bool = False

    def include(self, router: KafkaRouter, consumers: Sequence[EventConsumer] = ()) -> None:
        self.broker.include_router(router)
        self.consumers.extend(consumers)

    def live_feed(self, topics: Sequence[str], hub: LiveHub) -> KafkaLiveFeed:
        """Feeds `hub` (what the subgraph's subscriptions read) from `topics`, in the
        background while the service runs."""
        feed = KafkaLiveFeed(
            self.settings.kafka_bootstrap,
            topics,
            hub,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
        )
        self.background.append(feed.run)
        self.hubs.append(hub)
        return feed

    async def outbox_backlog(self) -> int:
        """Rows still to publish; not those the broker refused for good (`outbox_refused`):
        they wait for an operator, not for the relay."""
        outbox = self.uow.tables.outbox
        async with self.uow.reading() as uow:
            result = await uow.session.execute(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
            return int(result.scalar_one()) - self.outbox_refused

    @property
    def outbox_refused(self) -> int:
        return len(self.relay.refused) if self.relay else 0


def build_runtime(settings: ServiceSettings, tables: MessagingTables, migrations: Path) -> Runtime:
    engine = make_engine(settings.db_url)
    broker = make_broker(settings.kafka_bootstrap)
    return Runtime(settings, UnitOfWorkFactory(engine, tables), migrations, broker)


def make_broker(bootstrap: str) -> KafkaBroker:
    """faststream logs each message it handles at `log_level`: DEBUG keeps that out of the
    service log, while its own failures (a parser or decoder raising before our consumer
    runs) still reach the log at ERROR instead of vanishing."""
    return KafkaBroker(bootstrap, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)


@contextlib.asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Start everything in dependency order; stop in reverse, also on error. The whole
    run holds the service's database against a replay (`storage.presence`)."""
    async with running_on(runtime.uow.engine, runtime.settings.service), _started(runtime):
        yield runtime


@contextlib.asynccontextmanager
async def _started(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    await upgrade(runtime.uow.engine, runtime.migrations)
    await wait_for_broker(settings.kafka_bootstrap)
    await ensure_topics(settings.kafka_bootstrap, replication=settings.kafka_replication)
    producer = make_producer(settings.kafka_bootstrap)
    await producer.start()
    runtime.relay = OutboxRelay(runtime.uow, producer)
    runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
    for task in runtime.background:
        runtime.tasks.append(asyncio.create_task(task(), name=getattr(task, "__name__", "task")))
    for hook in runtime.on_start:
        await hook()
    await runtime.broker.start()
    runtime.ready = True
    log.info("%s ready on %s:%s", settings.service, settings.host, settings.port)
    try:
        yield
    finally:
        runtime.ready = False
        await runtime.broker.stop()
        for running_task in runtime.tasks:
            running_task.cancel()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
        runtime.tasks.clear()
        await producer.stop()
        await runtime.uow.engine.dispose()


def create_app(runtime: Runtime) -> Starlette:
    name = runtime.settings.service

    async def healthz(_: Request) -> Response:
        status = 200 if runtime.ready else 503
        return JSONResponse({"service": name, "ready": runtime.ready}, status)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(
            await render_metrics(runtime), media_type="text/plain; version=0.0.4"
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with running(runtime):
            yield

    routes: list[BaseRoute] = [
        Route("/graphql", runtime.graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", runtime.graphql_app),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BodyLimit)])


async def render_metrics(runtime: Runtime) -> str:
    name = runtime.settings.service
    lines = [
        "# TYPE wastex_outbox_published_total counter",
        f'wastex_outbox_published_total{{service="{name}"}} '
        f"{runtime.relay.published if runtime.relay else 0}",
        "# TYPE wastex_outbox_backlog gauge",
        f'wastex_outbox_backlog{{service="{name}"}} {await runtime.outbox_backlog()}',
        "# TYPE wastex_outbox_refused gauge",
        f'wastex_outbox_refused{{service="{name}"}} {runtime.outbox_refused}',
    ]
    for metric in ("handled", "duplicates", "dead_lettered", "retries"):
        lines.append(f"# TYPE wastex_consumer_{metric}_total counter")
        for consumer in runtime.consumers:
            labels = f'service="{name}",group="{consumer.group}"'
            lines.append(
                f"wastex_consumer_{metric}_total{{{labels}}} {getattr(consumer.stats, metric)}"
            )
    lines.extend(live_lines(name, runtime.hubs))
    for own in runtime.metrics:
        lines.extend(await own())
    return "\n".join(lines) + "\n"


def live_lines(service: str, hubs: Sequence[LiveHub]) -> list[str]:
    """GraphQL subscriptions open now, and the events pushed to them and lost by them (a
    subscriber too slow: its queue full, the oldest event goes). A count that only grows
    is subscriptions not ended when their clients left."""
    label = f'{{service="{service}"}}'
    figures = (
        ("wastex_live_subscriptions", "gauge", sum(hub.open for hub in hubs)),
        ("wastex_live_events_published_total", "counter", sum(hub.published for hub in hubs)),
        ("wastex_live_events_dropped_total", "counter", sum(hub.dropped for hub in hubs)),
    )
    lines: list[str] = []
    for metric, kind, value in figures:
        lines += [f"# TYPE {metric} {kind}", f"{metric}{label} {value}"]
    return lines


def tune_garbage_collector(young_threshold: int) -> None:
    """Freeze what start-up built (modules, schemas, mappers: it lives as long as the
    process) out of the collector's sight, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def configure_logging(clock: Callable[[], float] = time.monotonic) -> None:
    """INFO and up to stderr; the Kafka client's repeated lines (its retries while the
    broker is down) held back to one of a kind a `log_repeats.PERIOD_SECONDS`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    hold_back_kafka_client_repeats(RepeatFilter(clock=clock))


S = TypeVar("S", bound=ServiceSettings)


def main(settings_type: type[S], build_app: Callable[[S], Starlette]) -> None:
    """`python -m wastex_<name>`: the settings read, the app built and served. Settings
    that cannot be used stop it before it migrates or listens, with one line each naming
    the variable and why, and exit code 2 (as the refusals in `serve`)."""
    try:
        settings = load_settings(settings_type)
    except SettingsError as err:
        service = settings_type.model_fields["service"].default
        for line in str(err).splitlines():
            print(f"{service}: refusing to start: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(build_app(settings), settings)


#: Seconds a starting service waits for its broker (one starting beside it answers in a few).
BROKER_WAIT_SECONDS = 30.0


async def start_up_problem(
    settings: ServiceSettings, broker_wait: float = BROKER_WAIT_SECONDS
) -> str | None:
    """Why the service cannot start where its settings point, in one line naming the
    setting to check, or None: its database cannot be opened, or its broker does not answer.
    Found here, not in the app's start-up, where each was a traceback and exit code 3."""
    service = settings.service
    engine = make_engine(settings.db_url)
    try:
        async with engine.connect():
            pass
    except (SQLAlchemyError, OSError) as err:
        return (
            f"cannot open the {service} database ({_first_line(err)}); "
            f"check WASTEX_{service.upper()}_DATABASE_URL"
        )
    finally:
        await engine.dispose()
    # aiokafka logs each refused connection (five a second): the one line below says it.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        await wait_for_broker(settings.kafka_bootstrap, timeout=broker_wait)
    except (KafkaError, OSError, TimeoutError) as err:
        return (
            f"cannot reach the Kafka broker at {settings.kafka_bootstrap} within "
            f"{broker_wait:g} s ({_first_line(err)}); check WASTEX_KAFKA_BOOTSTRAP"
        )
    finally:
        quiet.setLevel(level)
    return None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def serve(app: Starlette, settings: ServiceSettings) -> None:
    """Run `app` under uvicorn on the service's host and port; refuses to start with an
    empty secret, or to listen beyond loopback with the published dev secret."""
    import uvicorn

    configure_logging()
    if not settings.jwt_public_key and not settings.jwt_secret:
        # Set to nothing (a secret file that was not there): every token would be refused
        # with an error, each request a fault, rather than the service not starting.
        log.error("refusing to start: WASTEX_JWT_SECRET is set but empty")
        raise SystemExit(2)
    if settings.forgeable_from_afar:
        log.error(
            "refusing to start on %s with Kafka at %s: WASTEX_JWT_SECRET (or "
            "WASTEX_JWT_PUBLIC_KEY) is not set, or is shorter than 32 bytes: with the dev "
            "secret, which is public, or a short one, found offline from any token, anyone "
            "could sign an admin token; set it, or keep a local stack on 127.0.0.1",
            settings.host,
            settings.kafka_bootstrap,
        )
        raise SystemExit(2)
    problem = asyncio.run(start_up_problem(settings))
    if problem is not None:
        log.error("%s: refusing to start: %s", settings.service, problem)
        raise SystemExit(1)
    tune_garbage_collector(settings.gc_young_threshold)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_keep_alive=settings.http_keep_alive_seconds,
        timeout_graceful_shutdown=5,
        ws="auto",
        ws_max_size=MAX_BODY_BYTES,  # a subscription's message, as a request's body
    )
