"""Source events re-keyed by charge date: the pure split (`pieces`), the consumer loop
that runs it (`consumer`) and the process it runs in (`process`)."""
