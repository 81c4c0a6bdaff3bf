package server

// EventWatchers counts the MCP event watchers running and the MCP sessions whose event state is
// kept (mcp_events.go).
func EventWatchers(s *Server) (watchers, sessions int) { return s.eventWatchers() }
