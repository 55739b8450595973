"""Admin-tier products: only admins open them."""
