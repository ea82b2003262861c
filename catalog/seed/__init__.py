"""The demo catalog (`manage.py seed_catalog`): its words (data), how product number `n` is made
of them (products), its pictures (pictures) and how it is written to the database (writes).
"""
