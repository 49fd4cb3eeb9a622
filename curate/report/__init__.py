"""Figures and JSON shared by the reports of compare, diversity, inspect, training and sampling."""
