"""Training and data generation; imports from the runtime package, never imported by it."""
