"""Analysts' rules: schema, query language, compiled matcher, loader, rule tests and explanations."""

from monitor.rules.loader import LocatedError, RuleSetError, load_rules
from monitor.rules.model import Rule, RuleTests
from monitor.rules.ruleset import QueryHit, RuleSet

__all__ = ["LocatedError", "QueryHit", "Rule", "RuleSet", "RuleSetError", "RuleTests", "load_rules"]
