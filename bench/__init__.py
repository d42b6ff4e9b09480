"""rescp's benchmarks (`make bench`): ratios measured in one run on one machine."""
