"""Stage 7, monitoring: label-free production health against the model's training reference
(``docasset.core.training.health_reference``)."""
