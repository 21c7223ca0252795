"""Places and time: areas of interest, N03 municipal boundaries, the prefecture's
municipalities, and analysis periods."""
