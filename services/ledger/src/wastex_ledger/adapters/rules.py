"""Load the zero-waste rules: the packaged YAML (importlib.resources) or a configured file."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wastex_ledger.domain import errors
from wastex_ledger.domain.zero_waste import Rule
from wastex_shared.errors import DomainError

PACKAGED = "zero_waste_rules.yaml"


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1)
    kind: str
    title: str = Field(min_length=1)
    threshold: Decimal | None = None


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    rules: list[_RuleModel] = Field(min_length=1)


def parse_rules(text: str) -> tuple[Rule, ...]:
    try:
        document = _RulesFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DomainError(errors.INVALID_RULES, f"zero-waste rules: {exc}") from exc
    keys = [r.key for r in document.rules]
    if len(set(keys)) != len(keys):
        raise DomainError(errors.INVALID_RULES, "zero-waste rules: duplicate rule keys")
    return tuple(Rule(r.key, r.kind, r.title, r.threshold) for r in document.rules)


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    if path is not None:
        return parse_rules(path.read_text("utf-8"))
    return parse_rules(resources.files("wastex_ledger").joinpath(PACKAGED).read_text("utf-8"))
