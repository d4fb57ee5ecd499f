"""GraphQL plumbing shared by the subgraphs: user errors, Relay connections, context, limits."""
