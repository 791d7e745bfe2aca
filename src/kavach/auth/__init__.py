"""Who may do what: organisations' users (argon2 passwords), API keys and login sessions, roles.

Keys and session tokens are random secrets shown once and stored only as SHA-256 digests, found by
a short public prefix. Passwords are hashed with argon2id. ``kavach.auth.models`` holds the
tables, ``kavach.auth.service`` the operations and the role → permission table.
"""
