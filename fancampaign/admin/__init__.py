"""The admin console: users, site settings, categories, mail, the dashboard."""
