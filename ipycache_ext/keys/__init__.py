"""Keys: what a call or a cell's result depends on, digested, and why a key changed."""
