"""Analysts' rules: schema, query language, compiled matcher, loader with hot reload, rule tests."""
