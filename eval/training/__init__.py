"""How the shipped reader was made: training (`train_reader`), choosing a configuration on
held-out articles (`pick_reader`), averaging checkpoints (`average_readers`), recovering torch
weights from the int8 export (`recover_reader`) and fitting its confidence and threshold
(`calibrate_reader`). Each has a command line in scripts/ of the same name. Here, under eval,
because they score with eval's metrics and splits."""
