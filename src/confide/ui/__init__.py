"""User interfaces: plain line mode here, the full-screen Textual app in ``ui.tui``."""
