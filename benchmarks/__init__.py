"""On-demand benchmarks (not part of the default test run); see each module's docstring."""
