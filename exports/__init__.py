"""Exports for other tools: HTCDS-style public microdata and differentially private
synthetic records."""
