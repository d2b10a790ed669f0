"""social-switchboard: public mentions into Slack and Teams, claimed and transferred like calls."""

__version__ = "0.1.0"
