"""The collector process: provider adapters read new data and publish observations."""
