"""Topic classifier: sentence embeddings scored against topics defined in rules/topics.yaml."""
