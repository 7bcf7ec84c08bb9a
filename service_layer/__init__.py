"""The application service: commands of the billing engine, each one atomic and retry-safe."""
