"""Wire models, codec and JSON Schemas. No Kafka, no processors."""
