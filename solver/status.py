"""Status codes of a Tc result (small integers, stored as such by the sweep)."""

STATUS_OK = 0
"""Tc was found: Lambda(Tc) = 1 with Tc above the temperature floor."""

STATUS_BELOW_FLOOR = 1
"""Lambda < 1 at the temperature floor: Tc is below the floor, no number is reported."""
