"""Products: finding them under apps/, importing them safely, mounting and watching them."""
