"""Record a live deployment, validate it as it runs, replay it offline, calibrate timing from it.

- `proxy.py`: `mockmj record`, a forwarding proxy that records every exchange (HAR 1.2) and its media.
- `validate.py`: the contract's rules applied to each live response; `GET /_mockmj/violations`.
- `redact.py`: keys never reach the disk.
- `har.py`: the HAR 1.2 file and the media next to it.
- `replay.py`: `mockmj serve --replay DIR`, a WSGI layer in front of the mock answering from a recording.
- `calibrate.py`: `mockmj calibrate DIR`, a timing profile (TOML) at the recorded relay's pace.
- `commands.py`: the command-line side of all of it.
"""
