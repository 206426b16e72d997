"""Alert rules, signals, notifications and silences: the layer that decides."""
