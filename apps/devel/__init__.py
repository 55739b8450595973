"""Development-tier products: open to devel and admin users."""
