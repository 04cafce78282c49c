"""The pipeline: Kafka topics drained into the warehouse in batches (drain) or windows
(stream), the broker's security and retention, with Great Expectations in between."""
