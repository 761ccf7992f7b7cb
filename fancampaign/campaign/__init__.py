"""The campaign after signing: timeline, mail to signers, delivery and the target's response."""
