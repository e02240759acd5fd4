"""The provider's catalog: components, customers, their sites, and subscribers."""
