"""What clients do: cart, set, register (each = op generator + client + checkers)."""
