"""Emulated budget.gov.ru open-data registry API."""
