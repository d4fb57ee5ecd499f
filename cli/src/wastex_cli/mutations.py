"""The API's everyday writes, as a client sends them: one copy for the demo seed, the
end-to-end tests and the chaos load. Each answers the new record's id (and status) and the
typed `userErrors`."""

from __future__ import annotations

USER_ERRORS = "userErrors { field message code }"

REGISTER_ENTERPRISE = f"""
mutation($input: RegisterEnterpriseInput!) {{
  registerEnterprise(input: $input) {{ enterprise {{ id }} {USER_ERRORS} }}
}}"""
ADD_SITE = f"""
mutation($input: AddSiteInput!) {{
  addSite(input: $input) {{ site {{ id }} {USER_ERRORS} }}
}}"""
REGISTER_LICENCE = f"""
mutation($input: RegisterLicenceInput!) {{
  registerLicence(input: $input) {{ licence {{ id }} {USER_ERRORS} }}
}}"""
POST_OFFER = f"""
mutation($input: PostOfferInput!) {{
  postOffer(input: $input) {{ offer {{ id status wasteCode quantityTonnes }} {USER_ERRORS} }}
}}"""
POST_DEMAND = f"""
mutation($input: PostDemandInput!) {{
  postDemand(input: $input) {{ demand {{ id status }} {USER_ERRORS} }}
}}"""
ACCEPT_MATCH = f"""
mutation($id: ID!) {{
  acceptMatch(id: $id) {{ match {{ id status }} {USER_ERRORS} }}
}}"""


def report(mutation: str) -> str:
    """A ledger report (`reportGeneration`, `reportStorage`, …): all take a LedgerReportInput."""
    return f"""
mutation($input: LedgerReportInput!) {{
  {mutation}(input: $input) {{ entry {{ id }} {USER_ERRORS} }}
}}"""
