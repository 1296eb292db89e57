"""What services agree on: event schemas, the codec, topic names and settings."""
