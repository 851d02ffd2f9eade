"""UAZAPI: webhook event models and normalisation, and the sending client."""
