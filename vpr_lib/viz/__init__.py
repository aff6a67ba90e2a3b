"""Figures and interactive views built from data and the results store."""
