"""Notices that really go out: rendering (Persian jinja2 templates) and the channels."""
