"""Campaigns: templates, audiences, timing, fan-out on the bulk lane, attribution and live progress.

Kept free of imports here: the inbound function imports ``campaigns.attribution`` only.
"""
