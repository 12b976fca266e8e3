"""Pure JAX numerics: sparse W operator, traces, log-determinants (no NumPyro sampling here)."""
