"""Call lists for a phone chain: account managers call the customers who matter most."""
