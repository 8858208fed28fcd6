"""The lessons: what a notebook shows or calls. Per-broker client helpers, faults, event
sourcing, CQRS, sagas, failover, backpressure, security, diagrams and plots; the engine that
starts brokers, benchmarks them and builds the book is `lab`."""
