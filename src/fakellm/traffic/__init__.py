"""How replies meet the wire: timing and faults (delivery), rate limits."""
