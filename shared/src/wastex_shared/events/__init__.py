"""Pydantic models of every event's `data`, registered by event type.

A model is registered with the topic it travels on and its schema major version; the
registry drives decoding on the consumer side and the JSON Schema snapshots under
`shared/schemas/` (checked by a contract test: a breaking change needs a new major).
"""

from wastex_shared.events.registry import EventModel, EventSpec, event, spec_for, specs

__all__ = ["EventModel", "EventSpec", "event", "spec_for", "specs"]
