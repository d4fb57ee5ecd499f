"""Contract: every registered event's JSON Schema equals its committed snapshot.

Snapshots live in `shared/schemas/<type>.v<major>.json`. A failing test means an event
changed shape: if the change is compatible (an optional field added), rewrite the snapshots
with `uv run wastex dev schemas`; if it is breaking, register a new major version instead.
An optional field added to a fact is compatible in either deploy order: a fact's consumers
ignore fields they do not know (decision 033). The factories' commands (`wastex.*` on the
ingest topics) refuse them, as docs/api.md promises: a field added to a command is taken
only once its consumer is deployed, and a factory sending it before is parked SCHEMA_INVALID.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wastex_shared.events import EventSpec, specs

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def snapshot_path(spec: EventSpec) -> Path:
    return SCHEMAS / f"{spec.schema_name}.json"


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.schema_name)
def test_event_schema_equals_its_committed_snapshot(spec: EventSpec) -> None:
    path = snapshot_path(spec)
    assert path.exists(), f"no snapshot for {spec.schema_name}: run `uv run wastex dev schemas`"
    committed = json.loads(path.read_text())
    assert spec.json_schema() == committed, (
        f"{spec.name} v{spec.version} changed shape; rewrite the snapshot with "
        "`uv run wastex dev schemas` if compatible, else register a new major version"
    )


def test_every_snapshot_belongs_to_a_registered_event() -> None:
    registered = {f"{spec.schema_name}.json" for spec in specs()}
    committed = {path.name for path in SCHEMAS.glob("*.json")}
    assert committed - registered == set(), "snapshots of events no longer registered"


def test_every_event_travels_on_a_topic_of_its_producer() -> None:
    for spec in specs():
        producer = spec.name.split(".", 1)[0]
        expected_prefix = "ingest." if producer == "wastex" else f"{producer}."
        assert spec.topic.name.startswith(expected_prefix), spec


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.name)
def test_facts_ignore_fields_they_do_not_know_and_commands_refuse_them(spec: EventSpec) -> None:
    """A tolerant reader of facts (a newer producer's optional field would otherwise park the
    fact with every consumer not yet upgraded: decision 033), strict on the factories'
    commands."""
    command = spec.name.startswith("wastex.")
    assert spec.model.model_config.get("extra") == ("forbid" if command else "ignore")
    assert spec.json_schema().get("additionalProperties") is (False if command else None)
