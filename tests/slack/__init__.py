"""Tests of the Slack surface against a loopback fake of the Slack Web API."""
