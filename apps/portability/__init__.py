"""A user's own data, out and back in: the account export (an archive readable without this
product) and its import into another account. docs/export.md."""
