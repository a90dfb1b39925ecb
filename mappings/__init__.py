"""Shipped field mappings and channel-grouping rules (YAML data), their loader and validator."""
