"""Text normalisation shared by the rule matcher and the classifier."""
