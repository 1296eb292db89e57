"""Webhooks: signing (Standard Webhooks), payload formats, retries, delivery."""
