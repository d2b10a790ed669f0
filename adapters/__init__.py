"""Source adapters: one module per public network, all behind ``bot.ports.Source``."""
