"""The engine that starts the brokers, runs the benchmarks, keeps the revision quiz and builds the
book. The lessons live in `helpers/`; nothing here is what a notebook teaches."""
