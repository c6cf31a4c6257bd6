"""From-scratch NumPy implementations, every backward written by hand (ゼロから作る style)."""
