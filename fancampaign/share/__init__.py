"""Link previews: the 1200x630 share cards that og:image points at.

`cards.py` draws a card from plain values (Pillow; no app in it); `services.py` decides what a
petition's or an article's card says and keeps each drawn card on disk under a key of what it
shows, so a card is drawn once per change (for a petition, once per rounding step of its
count) and a view of it costs a file read; `views.py` serves them.
"""
