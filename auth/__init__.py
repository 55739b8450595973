"""Identity for the portal: tiers, sessions, the Gate, the OIDC client and the dev provider."""
