"""The room plays along: the presenter's "Ask the room" (`ask`), the question on a phone (`answering`),
and who a phone is (`voter`)."""
