"""The portal's own data: users and sessions, in SQLite by default and MariaDB in production."""
