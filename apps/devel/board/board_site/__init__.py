"""Board: a small Django site, served by its own process under the portal's Gate."""
