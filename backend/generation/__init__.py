"""Text generation one token at a time, in-process or from a server, and views of one token."""
