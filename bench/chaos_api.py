"""The reliability suite's GraphQL client: the contract's operations, and an honest answer
about whether a call took effect.

A call through the gateway while a subgraph is being killed can end three ways, and the
load generator must tell them apart to count "lost" and "duplicated" fairly:
- `Applied`: the payload came back (possibly with `userErrors`: then nothing was done);
- `NotApplied`: the request never reached a live subgraph (connection refused), or the
  subgraph answered with a definite refusal; it is safe to send again;
- `Ambiguous`: the request may or may not have committed (the process died mid-request,
  a timeout, a masked internal error). Sending it again could duplicate, so the generator
  looks it up afterwards instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

REGISTER_ENTERPRISE = """
mutation($input: RegisterEnterpriseInput!) {
  registerEnterprise(input: $input) { enterprise { id } userErrors { field message code } }
}"""
ADD_SITE = """
mutation($input: AddSiteInput!) {
  addSite(input: $input) { site { id } userErrors { field message code } }
}"""
REGISTER_LICENCE = """
mutation($input: RegisterLicenceInput!) {
  registerLicence(input: $input) { licence { id } userErrors { field message code } }
}"""
POST_OFFER = """
mutation($input: PostOfferInput!) {
  postOffer(input: $input) { offer { id } userErrors { field message code } }
}"""
POST_DEMAND = """
mutation($input: PostDemandInput!) {
  postDemand(input: $input) { demand { id } userErrors { field message code } }
}"""
ACCEPT_MATCH = """
mutation($id: ID!) {
  acceptMatch(id: $id) { match { id status } userErrors { field message code } }
}"""
DISPATCH = """
mutation($input: DispatchShipmentInput!) {
  dispatchShipment(input: $input) {
    manifest { id status dispatchedTonnes } userErrors { field message code }
  }
}"""
RECEIVE = """
mutation($input: ReceiveShipmentInput!) {
  receiveShipment(input: $input) {
    manifest { id status receivedTonnes } userErrors { field message code }
  }
}"""
#: Ledger report mutations by ingest event type (the Kafka and GraphQL names of one action).
REPORT_MUTATIONS = {
    "wastex.report.generation": "reportGeneration",
    "wastex.report.in-plant-utilisation": "reportInPlantUtilisation",
    "wastex.report.storage": "reportStorage",
    "wastex.report.disposal": "reportDisposal",
}
REPORT = """
mutation($input: LedgerReportInput!) {
  %s(input: $input) { entry { id } userErrors { field message code } }
}"""

OFFERS = """
query($filter: OfferFilter, $after: String) {
  offers(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status quantityTonnes matchedTonnes description wasteCode } }
  }
}"""
DEMANDS = """
query($filter: DemandFilter, $after: String) {
  demands(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status quantityTonnes matchedTonnes } }
  }
}"""
MATCHES = """
query($filter: MatchFilter, $after: String) {
  matches(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id status tonnes shippedTonnes wasteCode supplierEnterpriseId recyclerEnterpriseId
      offer { id } demand { id }
    } }
  }
}"""
MANIFESTS = """
query($filter: ManifestFilter, $after: String) {
  manifests(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id matchId status supplierEnterpriseId recyclerEnterpriseId wasteCode period
      dispatchedTonnes receivedTonnes
    } }
  }
}"""
ENTRIES = """
query($filter: LedgerEntryFilter, $after: String) {
  ledgerEntries(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id kind enterpriseId siteId wasteCode tonnes period fromPriorStock causeEventId manifestId
    } }
  }
}"""
UTILISATION = """
query($scope: UtilisationScope, $from: String!, $to: String!) {
  utilisation(scope: $scope, from: $from, to: $to) {
    generatedTonnes utilisedTonnes utilisedInPlantTonnes transferredForUtilisationTonnes
    priorStockUtilisedTonnes disposedTonnes storedTonnes intakeTonnes rate inPlantShare
  }
}"""


@dataclass(frozen=True)
class Applied:
    """The subgraph answered with its payload; `errors` are its userErrors' codes."""

    payload: dict[str, Any]
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class NotApplied:
    reason: str


@dataclass(frozen=True)
class Ambiguous:
    reason: str


Outcome = Applied | NotApplied | Ambiguous

#: Gateway/transport messages that prove the request never reached a live subgraph.
_REFUSED_MARKERS = ("ECONNREFUSED", "connect ECONNREFUSED", "Connection refused")


class GraphQLError(RuntimeError):
    pass


@dataclass
class Api:
    """One HTTP connection pool to the gateway; tokens are passed per call."""

    url: str
    #: Generous: on a loaded machine a mutation may take many seconds, and a timeout
    #: turns a call ambiguous.
    timeout: float = 60.0
    #: How often a read is tried before its error is raised.
    read_attempts: int = 40
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    async def __aenter__(self) -> Api:
        self._http = httpx.AsyncClient(timeout=self.timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
        return self._http

    async def _post(self, token: str | None, query: str, variables: dict[str, Any]) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            self.url, json={"query": query, "variables": variables}, headers=headers
        )
        return response

    async def mutate(self, token: str, query: str, field_name: str, **variables: Any) -> Outcome:
        """Run one mutation and classify what became of it (see the module docstring)."""
        try:
            response = await self._post(token, query, variables)
        except httpx.ConnectError as exc:
            return NotApplied(f"gateway unreachable: {exc}")
        except httpx.HTTPError as exc:
            return Ambiguous(f"{type(exc).__name__}: {exc}")
        try:
            body = response.json()
        except ValueError:
            return Ambiguous(f"HTTP {response.status_code}: {response.text[:200]}")
        data = (body.get("data") or {}).get(field_name)
        if data is not None:
            codes = tuple(str(e.get("code")) for e in data.get("userErrors") or ())
            return Applied(data, codes)
        errors = body.get("errors") or [{"message": f"HTTP {response.status_code}"}]
        text = "; ".join(str(e.get("message")) for e in errors)[:500]
        if any(marker in text for marker in _REFUSED_MARKERS):
            return NotApplied(text)
        return Ambiguous(text)

    async def query(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        """A read; raises GraphQLError on any error (callers retry reads freely)."""
        response = await self._post(token, query, variables)
        body = response.json()
        if body.get("errors") or body.get("data") is None:
            raise GraphQLError(str(body.get("errors"))[:1000])
        data: dict[str, Any] = body["data"]
        return data

    async def query_retrying(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        """A read that outlasts a subgraph restart (reads are safe to repeat)."""
        for attempt in range(self.read_attempts):
            try:
                return await self.query(token, query, **variables)
            except (GraphQLError, httpx.HTTPError, ValueError):
                if attempt == self.read_attempts - 1:
                    raise
                await asyncio.sleep(min(0.25 * (attempt + 1), 2.0))
        raise AssertionError("unreachable")

    async def all_nodes(
        self, token: str, query: str, field_name: str, **variables: Any
    ) -> list[dict[str, Any]]:
        """Every node of a Relay connection, page by page."""
        nodes: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            data = await self.query_retrying(token, query, after=after, **variables)
            connection = data[field_name]
            nodes.extend(edge["node"] for edge in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                return nodes
            after = connection["pageInfo"]["endCursor"]
