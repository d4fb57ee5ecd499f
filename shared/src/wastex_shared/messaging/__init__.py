"""Reliable messaging, one implementation for all services: outbox relay, idempotent batch
consumer with manual commit and dead letters, topic administration and live feeds."""

from wastex_shared.messaging.consumer import EventConsumer, EventHandler, Poison
from wastex_shared.messaging.relay import OutboxRelay

__all__ = ["EventConsumer", "EventHandler", "OutboxRelay", "Poison"]
