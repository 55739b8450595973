"""Products: the folder a product sits in is its access tier (apps/<tier>/<name>/)."""
