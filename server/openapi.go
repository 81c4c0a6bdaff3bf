package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"

	"github.com/agentbridge/agentbridge/gen/openapi"
)

// openAPIDocument merges the generated OpenAPI v2 documents of the files that declare the
// served services into one document.
func (s *Server) openAPIDocument(g *generation) ([]byte, error) {
	doc := map[string]any{
		"swagger": "2.0",
		"info": map[string]any{
			"title":       "agentbridge",
			"description": "Legacy backends served as proto services. Every operation is also served over gRPC, Connect and gRPC-Web.",
			"version":     "v1",
		},
		"consumes": []string{"application/json"},
		"produces": []string{"application/json"},
	}
	paths, defs := map[string]any{}, map[string]any{}
	var tags []any
	seen := map[string]bool{}
	for _, svc := range g.services {
		file := svc.Desc.ParentFile().Path()
		if seen[file] {
			continue
		}
		seen[file] = true
		data, err := fs.ReadFile(openapi.Files, strings.TrimSuffix(file, ".proto")+".swagger.json")
		if errors.Is(err, fs.ErrNotExist) {
			continue // a contract loaded at run time: not in the generated documents
		}
		if err != nil {
			return nil, fmt.Errorf("server: no OpenAPI document for %s (run make generate): %w", file, err)
		}
		var part map[string]any
		if err := json.Unmarshal(data, &part); err != nil {
			return nil, fmt.Errorf("server: OpenAPI document for %s: %w", file, err)
		}
		if p, ok := part["paths"].(map[string]any); ok {
			maps.Copy(paths, p)
		}
		if d, ok := part["definitions"].(map[string]any); ok {
			maps.Copy(defs, d)
		}
		if t, ok := part["tags"].([]any); ok {
			tags = append(tags, t...)
		}
	}
	doc["paths"], doc["definitions"], doc["tags"] = paths, defs, tags
	return json.MarshalIndent(doc, "", "  ")
}
