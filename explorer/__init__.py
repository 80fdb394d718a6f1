"""face-explorer: explore what a face GAN has learned (the window, its core and the CLI)."""

__version__ = "0.1.0"
