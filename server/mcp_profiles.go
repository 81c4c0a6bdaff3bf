package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/server/toolschema"
)

// Schema profiles on the MCP surface. The go-sdk serves one tool list per mcp.Server, and a
// Streamable HTTP handler picks the server before the session's initialize is read, so the
// profile cannot be chosen by picking a server. Instead each toolset's server has a receiving
// middleware that rewrites the tools/list result for the session that asked: the request
// carries the session (and, on sessionless protocol versions, its own _meta), so
// ClientInfo() names the host, and every tool's inputSchema is swapped for the profile's,
// made once per generation. The registered tools, the tool handlers and the server-side check
// stay exact, whatever the profile. The same middleware reads null as "not set" in the
// arguments of openai-strict sessions, whose schemas make every property required and nullable.

// hostProfiles chooses a profile from the name (or title) a host announces in initialize's
// clientInfo: the first entry whose word the name contains, ignoring case, wins. Hosts not
// named here get the configured profile.
var hostProfiles = []struct {
	word    string
	profile toolschema.Profile
}{
	{"gemini", toolschema.Gemini},       // Gemini CLI, apps on @google/genai
	{"openai", toolschema.OpenAIStrict}, // OpenAI Agents SDK and connectors
	{"codex", toolschema.OpenAIStrict},  // Codex CLI
	{"claude", toolschema.Portable},     // Claude Code, Claude Desktop
	{"anthropic", toolschema.Portable},
	{"cursor", toolschema.Portable},
}

// profileOfHost returns the profile hostProfiles gives info, if any.
func profileOfHost(info *mcp.Implementation) (toolschema.Profile, bool) {
	if info == nil {
		return "", false
	}
	name := strings.ToLower(info.Name + " " + info.Title)
	for _, h := range hostProfiles {
		if strings.Contains(name, h.word) {
			return h.profile, true
		}
	}
	return "", false
}

// checkProfiles reads the configured profile names, so a typo fails at start-up or reload.
func checkProfiles(o MCPOptions) error {
	if _, err := toolschema.ParseProfile(o.Profile); err != nil {
		return fmt.Errorf("server: mcp.profile: %w", err)
	}
	for name, ts := range o.Toolsets {
		if _, err := toolschema.ParseProfile(ts.Profile); err != nil {
			return fmt.Errorf("server: mcp.toolsets.%s.profile: %w", name, err)
		}
	}
	return nil
}

// configuredProfile is the profile of a toolset's hosts that hostProfiles does not place: the
// toolset's own, else mcp.profile, else DefaultProfile.
func (g *generation) configuredProfile(toolset string) toolschema.Profile {
	name := g.mcpOpts.Profile
	if ts, ok := g.mcpOpts.Toolsets[toolset]; ok && toolset != "" && ts.Profile != "" {
		name = ts.Profile
	}
	p, err := toolschema.ParseProfile(name)
	if err != nil {
		return toolschema.DefaultProfile // checkProfiles refused this configuration already
	}
	return p
}

// sessionProfile is the profile a host is shown on a toolset.
func (g *generation) sessionProfile(toolset string, info *mcp.Implementation) toolschema.Profile {
	if auto := g.mcpOpts.AutoProfile; auto == nil || *auto {
		if p, ok := profileOfHost(info); ok {
			return p
		}
	}
	return g.configuredProfile(toolset)
}

// advertisedInputs makes a tool's input schema in every profile but Exact, as JSON.
func advertisedInputs(exact map[string]any) (map[toolschema.Profile]json.RawMessage, error) {
	out := map[toolschema.Profile]json.RawMessage{}
	for _, p := range toolschema.Profiles() {
		if p == toolschema.Exact {
			continue
		}
		s, err := toolschema.Advertise(exact, p)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		out[p] = data
	}
	return out, nil
}

// geminiOutput makes a tool's output schema as Gemini reads one, which gemini and portable
// sessions get (portable being what every host takes): @google/genai's mcpToTool hands it to
// the model API as the function's response schema, which takes the same OpenAPI subset as
// parameters; the other hosts read it, or check results against it, as JSON Schema. It is the gemini rendering of the exact schema with nothing required
// and NullValue fields (null in the JSON, which that subset cannot say) left to the
// description, so that every result the server writes still validates against it.
func geminiOutput(exact map[string]any) (json.RawMessage, error) {
	s, err := toolschema.Advertise(exact, toolschema.Gemini)
	if err != nil {
		return nil, err
	}
	loosenOutput(s)
	return json.Marshal(s)
}

// loosenOutput drops required lists and the properties whose schema stands for JSON null (the
// NULL_VALUE string the gemini rendering writes for NullValue), at every level.
func loosenOutput(v any) {
	switch n := v.(type) {
	case map[string]any:
		delete(n, "required")
		if props, ok := n["properties"].(map[string]any); ok {
			for name, p := range props {
				if pm, ok := p.(map[string]any); ok {
					if enum, ok := pm["enum"].([]any); ok && len(enum) == 1 && enum[0] == "NULL_VALUE" {
						delete(props, name)
						continue
					}
				}
				loosenOutput(p)
			}
		}
		for k, c := range n {
			if k != "properties" {
				loosenOutput(c)
			}
		}
	case []any:
		for _, c := range n {
			loosenOutput(c)
		}
	}
}

// inProfile returns the tool as a host of profile p sees it.
func (t *mcpTool) inProfile(p toolschema.Profile) *mcp.Tool {
	in, ok := t.advertised[p]
	if !ok {
		return t.tool
	}
	c := *t.tool
	c.InputSchema = in
	if (p == toolschema.Gemini || p == toolschema.Portable) && t.geminiOut != nil {
		c.OutputSchema = t.geminiOut
	}
	return &c
}

// profileMiddleware shapes a toolset's tools/list for the session's host. The null that
// openai-strict hosts send for an unset property needs nothing here: the tool handler reads null
// as "not set" for every session (see dropAbsentNulls), as protojson does on every surface.
func (s *Server) profileMiddleware(toolset string) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			r, ok := req.(*mcp.ListToolsRequest)
			if !ok {
				return next(ctx, method, req)
			}
			g := s.gen.Load()
			p := g.sessionProfile(toolset, r.ClientInfo())
			res, err := next(ctx, method, req)
			list, ok := res.(*mcp.ListToolsResult)
			if err != nil || !ok || p == toolschema.Exact {
				return res, err
			}
			shaped := *list
			shaped.Tools = make([]*mcp.Tool, len(list.Tools))
			for i, tool := range list.Tools {
				shaped.Tools[i] = tool
				if t := g.tool(tool.Name); t != nil {
					shaped.Tools[i] = t.inProfile(p)
				}
			}
			return &shaped, nil
		}
	}
}
