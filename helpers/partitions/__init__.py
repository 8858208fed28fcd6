"""Network partitions, lossy and slow links on hosts of the lab's own (notebook 18): a small fault
API (`faults.Network`: partition, isolate, loss, delay, heal), a checker that compares what a
client was told with what the brokers kept (`checker.check`), the experiments that use both
(`redis`, `kafka`, `rabbitmq`), and the tables and figure of the slow and lossy link runs
(`links`)."""
