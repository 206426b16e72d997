"""The war-room wall view (``opsconsole wall`` and the console's ``W``): read-only."""
