"""The event registry: type name → data model, topic and major version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from wastex_shared.topics import Topic


class EventModel(BaseModel):
    """Base of every event payload: camelCase on the wire. A fact's unknown fields are
    ignored (a tolerant reader: a newer producer's optional field does not park the fact
    with every consumer not yet upgraded, decision 033); the factories' commands refuse
    theirs (`ingest.IngestModel`). Our own code cannot add one: the pydantic mypy plugin
    checks every constructor's keywords."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    topic: Topic
    model: type[EventModel]
    version: int = 1

    @property
    def schema_name(self) -> str:
        return f"{self.name}.v{self.version}"

    def json_schema(self) -> dict[str, Any]:
        return self.model.model_json_schema(by_alias=True)


_REGISTRY: dict[str, EventSpec] = {}

M = TypeVar("M", bound=type[EventModel])


def event(type: str, topic: Topic, version: int = 1) -> Callable[[M], M]:
    """Class decorator: register `cls` as the data of events of `type` on `topic`."""

    def register(cls: M) -> M:
        if type in _REGISTRY:
            raise ValueError(f"event type {type} registered twice")
        _REGISTRY[type] = EventSpec(type, topic, cls, version)
        return cls

    return register


def spec_for(type: str) -> EventSpec | None:
    _load_all()
    return _REGISTRY.get(type)


def specs() -> list[EventSpec]:
    _load_all()
    return sorted(_REGISTRY.values(), key=lambda s: s.name)


def _load_all() -> None:
    # Importing the modules runs their decorators; done lazily to avoid import cycles.
    from wastex_shared.events import catalog, ingest, ledger, matching  # noqa: F401
