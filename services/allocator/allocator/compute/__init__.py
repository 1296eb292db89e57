"""What runs in the compute process (or a worker thread): a date's allocation with
its kept engine and frames (`livedays`), the changes it yields (`daydelta`) and
their encoding for the store (`encoding`, `shares`); `process` is the process itself."""
