"""Stage 7, monitoring: label-free production health against the model's training reference."""
