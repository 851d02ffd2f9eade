"""The Upstash Redis data layer: key names, Lua scripts and typed records."""
