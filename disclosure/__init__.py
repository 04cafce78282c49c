"""The disclosure core: what keeps a person from being singled out, used by queries,
trends, exports and reports alike. The policy (thresholds, k, noise, budgets; policy.py),
generalisation of quasi-identifiers (generalise.py), suppression of small cells and of
those that would reveal them (suppression.py), perturbation of the counts that leave the
hub (perturbation.py), the k-anonymity search (k_anonymity.py) and differential privacy
(differential_privacy.py)."""
