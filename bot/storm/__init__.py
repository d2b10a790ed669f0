"""Storm mode: a flood of new threads shown as digests within each channel's rate."""
