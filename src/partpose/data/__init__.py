"""Data: motion capture, the unpaired pose prior, synthetic videos, frame pairs, real datasets."""
