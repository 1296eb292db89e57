"""The allocator's inputs per charge date: the data (`days`), the engine's columns
built from it (`columns`), the changelog key codec (`keys`) and the state mirrored
into the Faust tables (`state`)."""
