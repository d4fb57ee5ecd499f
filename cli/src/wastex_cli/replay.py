"""`wastex replay SERVICE`: each service owns how its read models are rebuilt (`<pkg>.replay`)."""

from __future__ import annotations

import importlib


async def replay_service(service: str) -> str:
    module = importlib.import_module(f"wastex_{service}.replay")
    settings_module = importlib.import_module(f"wastex_{service}.settings")
    settings_cls = getattr(settings_module, f"{service.capitalize()}Settings")
    report: str = await module.replay(settings_cls())
    return report
