"""The Auth0 directory: the Management API client, user sync, user administration, the Action."""
