"""Rule on/off switches kept in the store, handed to the rule engine."""
