"""Running the app on a socket: granian with worker processes for `mockmj serve`, waitress for
`mockmj record`, and a server inside the calling process for tests and the pytest plugin."""
