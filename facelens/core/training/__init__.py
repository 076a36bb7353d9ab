"""Training: builds models from datasets and analysed sessions (the morphable model, the valence/arousal
regressor G, the AsmV2L network). Run-time parts of those models live in their stage (face, affect); the
code that reads datasets, results files and corpora to fit them lives here, above the stages it uses."""
