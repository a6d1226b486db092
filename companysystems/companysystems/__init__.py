"""Voltera's company systems: the reference implementation of the system contract.

The back office fans customers' privacy requests out to these systems over HTTP. A real company
replaces this package with its own CRM, order, loyalty, marketing, Wi-Fi and service systems; the
contract (openapi.yaml) is what they must answer.
"""
