"""Early-access products: open to ea, devel and admin users."""
