"""Backpressure experiments (notebook 12): a producer faster than its consumer on each broker,
and what each one does about it: RabbitMQ's prefetch, queue length limits and memory alarm;
Kafka's consumer lag, pause/resume and the producer's local queue; Redis stream trimming."""
