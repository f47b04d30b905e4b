"""Services: use cases that orchestrate core and storage."""
