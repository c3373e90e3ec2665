"""Notion: one page per delivery in the destination's database (its first data source)."""
