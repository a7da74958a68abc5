"""Likelihood components of hpjax."""
