"""The legal pages every Italian public administration site publishes.

The accessibility statement (AgID's model), the privacy notice (GDPR art. 13)
and the cookie statement: texts in the database, edited by administrators
with every previous version kept, public to everyone. See ``models`` (the
rows), ``content`` (rendering, placeholders, the built-in template texts),
``facts`` (what collab itself sets and keeps, from the code and the
settings), ``actions`` (the checked, audited save) and ``pages`` (the public
pages).
"""
