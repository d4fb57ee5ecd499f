"""`wastex replay SERVICE`: each service owns how its read models are rebuilt (`<pkg>.replay`);
this refuses while any process of the service runs on its database (`storage.presence`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy.engine import make_url

from wastex_shared.errors import DomainError
from wastex_shared.settings import load_settings
from wastex_shared.storage import make_engine
from wastex_shared.storage.presence import alone_on


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names, if it does not exist (connecting would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


async def replay_service(service: str) -> str:
    module = importlib.import_module(f"wastex_{service}.replay")
    settings_module = importlib.import_module(f"wastex_{service}.settings")
    settings_cls = getattr(settings_module, f"{service.capitalize()}Settings")
    settings = load_settings(settings_cls)
    missing = _missing_sqlite_file(settings.db_url)
    if missing is not None:
        # Run from another directory, or the service's URL not set here: a new file is not
        # the database the service reads, and rebuilding into it would only seem to work.
        raise DomainError(
            "NO_DATABASE",
            f"no {service} database at {missing}: set WASTEX_{service.upper()}_DATABASE_URL "
            f"(or WASTEX_DATA_DIR) to the one the {service} service uses",
        )
    # Alone on the database: the service's live consumers would overwrite the rebuild.
    engine = make_engine(settings.db_url)
    try:
        async with alone_on(engine, service):
            report: str = await module.replay(settings)
    finally:
        await engine.dispose()
    return report
