"""The portal's HTTP API: one router per resource, thin edges over the application service."""
