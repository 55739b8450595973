"""The root portal app: dashboard, sign-in, product discovery and mounting, CLI and settings."""
