"""extent."""
