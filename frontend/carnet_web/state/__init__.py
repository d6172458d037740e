"""State classes: `SessionState` holds what every page shares; one module per page below it."""
