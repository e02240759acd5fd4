"""Ratings: did the way we handled an incident win back the customer's trust?"""
