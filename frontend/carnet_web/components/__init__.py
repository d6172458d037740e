"""Components shared by the pages: the app shell (header + navigation) and small pieces."""
