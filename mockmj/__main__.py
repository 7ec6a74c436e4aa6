from mockmj.cli import main

# Guarded: a worker process started with the "spawn" method (macOS, Python 3.14's default on Linux) imports
# this module again as __mp_main__, and must not run the command line a second time.
if __name__ == "__main__":
    main()
