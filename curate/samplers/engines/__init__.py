"""The engines behind the thermal samplers: molecular dynamics and phonopy force constants."""
