"""Run the ledger service: `python -m wastex_ledger` (host and port from settings)."""

from wastex_ledger.main import build_app
from wastex_ledger.settings import LedgerSettings
from wastex_shared.runtime import main

if __name__ == "__main__":
    main(LedgerSettings, build_app)
