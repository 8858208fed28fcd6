"""Stream processing on Kafka with two engines, Quix Streams and Apache Flink (PyFlink), each run
as a process of its own environment: order events sent late on purpose and the windows they must
give (`orders`), the pipelines' sources (`pipelines/`, shown in full by the notebook) and how they
are started, killed and read back (`processes`)."""
