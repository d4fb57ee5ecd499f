"""Queue a catalog fact in the outbox as a CloudEvents envelope on its registered topic.

Facts caused by a message (an ingest command, a matching event) get an id derived from
that message, so handling the same message again yields the same event id and consumers
drop the duplicate; facts caused by a GraphQL call get a fresh id.
"""

from __future__ import annotations

from functools import cache

from wastex_shared.envelope import Envelope, derived_id
from wastex_shared.events import EventModel, EventSpec, specs
from wastex_shared.storage import UnitOfWork

#: `source` of every event the catalog publishes.
SOURCE = "catalog"


@cache
def _spec_of(model: type[EventModel]) -> EventSpec:
    for spec in specs():
        if spec.model is model:
            return spec
    raise LookupError(f"{model.__name__} is not a registered event")


def event_for(fact: EventModel, subject: str, cause: Envelope | None = None) -> Envelope:
    spec = _spec_of(type(fact))
    return Envelope.new(
        spec.name,
        SOURCE,
        subject,
        fact,
        id=derived_id(cause.source, cause.id, spec.name, subject) if cause else None,
        cause=cause,
        schema_version=spec.version,
    )


async def publish(
    uow: UnitOfWork, fact: EventModel, subject: str, cause: Envelope | None = None
) -> Envelope:
    """Queue `fact` (keyed by `subject`, the aggregate id); it leaves when `uow` commits."""
    event = event_for(fact, subject, cause)
    await uow.publish(_spec_of(type(fact)).topic.name, event)
    return event
