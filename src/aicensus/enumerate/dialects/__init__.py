"""One module per model-listing dialect; the registry is `aicensus.enumerate.registry`."""
