"""The phone app (built assets in static/) and `pamchain web`, its server and same-origin relay."""
