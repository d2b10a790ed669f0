"""The rules a config states, as plain values: business calendars, service levels, storms."""
