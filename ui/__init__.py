"""The Streamlit side of the app: what the pages share, each page's inputs, request and sections,
the talk and the room, and the server's start-up work."""
