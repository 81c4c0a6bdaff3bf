package server

// EventWatchers counts the MCP event watchers running (mcp_events.go).
func EventWatchers(s *Server) int { return s.eventWatchers() }
