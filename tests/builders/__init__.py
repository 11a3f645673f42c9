"""Builders shared across test directories: banks, farmers, certificates, loans, demands, stations, webhooks,
risk funds, the two API processes. Each directory's conftest.py only exposes the fixtures of its builder module;
tests of other directories import the builders from here, never another directory's conftest."""
