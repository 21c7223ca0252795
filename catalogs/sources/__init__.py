"""Data sources and their security: STAC search, source profiles, signing of Planetary
Computer hrefs, the asset-href policy, and the download of the N03 boundaries."""
