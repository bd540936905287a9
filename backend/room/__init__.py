"""The room plays along: a question built from a model's answer, the audience's answers, and the
reveal's numbers (`questions`), kept in a store shared by the app's servers (`store`)."""
